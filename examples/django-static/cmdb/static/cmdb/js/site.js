window.cmdb = { version: document.documentElement.dataset.version };
