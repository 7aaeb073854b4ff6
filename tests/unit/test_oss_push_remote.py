"""Which failures oss-push retries (connection, CRC, 5xx, throttling) and which it never does (4xx)."""


def test_what_is_retried():
    import oss2
    import urllib3

    from oss_push.remote import CrcMissing, is_transient

    def server(status, code):
        return oss2.exceptions.make_exception(SimpleResp(status, code))

    assert is_transient(oss2.exceptions.RequestError(ConnectionResetError("reset")))
    assert is_transient(oss2.exceptions.InconsistentError("crc", "rid"))
    assert is_transient(server(503, "ServiceUnavailable")) and is_transient(server(500, "InternalError"))
    assert is_transient(urllib3.exceptions.ProtocolError("body cut short"))
    for status, code in ((403, "SignatureDoesNotMatch"), (403, "InvalidAccessKeyId"), (400, "InvalidDigest"),
                         (409, "FileAlreadyExists"), (404, "NoSuchBucket")):
        assert not is_transient(server(status, code)), code
    assert not is_transient(CrcMissing("no header")) and not is_transient(ValueError("bug"))


class SimpleResp:
    def __init__(self, status, code):
        self.status = status
        self.headers = {"x-oss-request-id": "RID"}
        self.request_id = "RID"
        self._body = (f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>m</Message>"
                      f"<RequestId>RID</RequestId></Error>").encode()

    def read(self, *a):
        body, self._body = self._body, b""
        return body
