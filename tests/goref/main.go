// Reference for tagship's ports of Drone's code: reads hex-encoded cases on stdin, one per line, and
// answers one line each. Built at test time in GOPATH mode against Debian's packages (no module proxy).
//
//	envsubst <hex template> [<hex name> <hex value>]...  ->  "ok <hex output>" | "err <hex message>"
//	    drone/envsubst Eval with drone's runner mapping (a value holding a newline is %q-quoted)
//	encode <hex yaml>  ->  "ok <hex json>" | "err <hex message>"
//	    the yaml (a map) read by yaml.v2 into map[string]interface{}; each value encoded as
//	    drone-runner-docker's encoder does; the answer is a JSON object key -> {"t": Go type, "v": text}
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/drone/envsubst"
	ghodss "github.com/ghodss/yaml"
	yaml "gopkg.in/yaml.v2"
)

// runner-go's manifest.Parameter and manifest.Variable (how settings: and environment: values are read)
type parameter struct {
	Value  interface{}
	Secret string
}

func (p *parameter) UnmarshalYAML(unmarshal func(interface{}) error) error {
	d := struct {
		Secret string `yaml:"from_secret"`
	}{}
	err := unmarshal(&d)
	if err == nil && d.Secret != "" {
		p.Secret = d.Secret
		return nil
	}
	var i interface{}
	err = unmarshal(&i)
	p.Value = i
	return err
}

type variable struct {
	Value  string
	Secret string
}

func (v *variable) UnmarshalYAML(unmarshal func(interface{}) error) error {
	d := struct {
		Value  string
		Secret string `yaml:"from_secret"`
	}{}
	err := unmarshal(&d.Value)
	if err != nil {
		err = unmarshal(&d)
	}
	v.Value = d.Value
	v.Secret = d.Secret
	return err
}

type step struct {
	Settings    map[string]*parameter `yaml:"settings"`
	Environment map[string]*variable  `yaml:"environment"`
}

func encode(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case []interface{}:
		out, _ := yaml.Marshal(v)
		in := []string{}
		if err := yaml.Unmarshal(out, &in); err == nil {
			return strings.Join(in, ",")
		}
		out, _ = ghodss.YAMLToJSON(out)
		return string(out)
	default:
		yml, _ := yaml.Marshal(v)
		out, _ := ghodss.YAMLToJSON(yml)
		return string(out)
	}
}

// eval is drone's runner's substitution; a panic in envsubst (a slice out of range) is reported, not fatal
func eval(text string, env map[string]string) (out string, err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			out, err, panicked = "", fmt.Errorf("%v", r), true
		}
	}()
	out, err = envsubst.Eval(text, func(k string) string {
		v := env[k]
		if strings.Contains(v, "\n") {
			v = fmt.Sprintf("%q", v)
		}
		return v
	})
	return out, err, false
}

func unhex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func answer(w *bufio.Writer, ok bool, text string) {
	tag := "err"
	if ok {
		tag = "ok"
	}
	fmt.Fprintf(w, "%s %s\n", tag, hex.EncodeToString([]byte(text)))
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for in.Scan() {
		f := strings.Split(in.Text(), " ")
		switch f[0] {
		case "envsubst":
			env := map[string]string{}
			for i := 2; i+1 < len(f); i += 2 {
				env[unhex(f[i])] = unhex(f[i+1])
			}
			out, err, panicked := eval(unhex(f[1]), env)
			if panicked {
				fmt.Fprintf(w, "panic %s\n", hex.EncodeToString([]byte(err.Error())))
			} else if err != nil {
				answer(w, false, err.Error())
			} else {
				answer(w, true, out)
			}
		case "encode":
			m := map[string]interface{}{}
			if err := yaml.Unmarshal([]byte(unhex(f[1])), &m); err != nil {
				answer(w, false, err.Error())
				continue
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			res := map[string]map[string]string{}
			for _, k := range keys {
				res[k] = map[string]string{"t": fmt.Sprintf("%T", m[k]), "v": encode(m[k])}
			}
			b, _ := json.Marshal(res)
			answer(w, true, string(b))
		case "step":
			// a step's settings: and environment: as the runner reads them: key -> secret | nil | value
			var st step
			if err := yaml.Unmarshal([]byte(unhex(f[1])), &st); err != nil {
				answer(w, false, err.Error())
				continue
			}
			res := map[string]map[string]string{}
			for k, p := range st.Settings {
				switch {
				case p == nil:
					res["s:"+k] = map[string]string{"nil": ""}
				case p.Secret != "":
					res["s:"+k] = map[string]string{"secret": p.Secret}
				default:
					res["s:"+k] = map[string]string{"v": encode(p.Value)}
				}
			}
			for k, v := range st.Environment {
				switch {
				case v == nil:
					res["e:"+k] = map[string]string{"nil": ""}
				case v.Secret != "":
					res["e:"+k] = map[string]string{"secret": v.Secret}
				default:
					res["e:"+k] = map[string]string{"v": v.Value}
				}
			}
			b, _ := json.Marshal(res)
			answer(w, true, string(b))
		default:
			answer(w, false, "unknown command "+f[0])
		}
	}
}
