#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/ (run from anywhere).

The seeds are small, meaningful inputs for each harness: real tokens signed
with the harness's fixed keys, bodies the integration tests send, tricky
links, ranges, FastCGI parameter sets and alert payloads.  Each file is
named after what it is.  Re-running rewrites the files this script knows
and leaves any other file alone (regression inputs for fixed findings are
added by hand as regress-*).  The first byte of a seed selects the mode or
route of its harness; see the harness's header comment.
"""
import base64
import hashlib
import hmac
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# Keep in step with fuzz_jwt.c.
KEY = b"fuzz-current-key-0123456789abcdef0123456789"
KEY_PREVIOUS = b"fuzz-previous-key-0123456789abcdef012345678"
NOW = 1767225600


def write(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(header, payload, key=KEY):
    h = header if isinstance(header, bytes) else json.dumps(
        header, separators=(",", ":")).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(
        payload, separators=(",", ":")).encode()
    signing = (b64u(h) + "." + b64u(p)).encode()
    sig = hmac.new(key, signing, hashlib.sha256).digest()
    return signing.decode() + "." + b64u(sig)


def jwt_seeds():
    hs = {"alg": "HS256", "typ": "JWT"}
    good = {"sub": "42", "iat": NOW - 60, "exp": NOW + 3600,
            "iss": "trackly", "ver": 3}
    # Mode 0: raw tokens.
    write("jwt", "0-valid", "0" + token(hs, good))
    write("jwt", "0-valid-previous-key",
          "0" + token(hs, good, KEY_PREVIOUS))
    write("jwt", "0-expired",
          "0" + token(hs, dict(good, exp=NOW - 3600)))
    write("jwt", "0-not-yet", "0" + token(hs, dict(good, nbf=NOW + 600)))
    write("jwt", "0-wrong-issuer", "0" + token(hs, dict(good, iss="x")))
    write("jwt", "0-alg-none",
          "0" + b64u(b'{"alg":"none"}') + "." + b64u(json.dumps(good).encode()) + ".")
    write("jwt", "0-alg-hs512", "0" + token({"alg": "HS512"}, good))
    write("jwt", "0-crit", "0" + token({"alg": "HS256", "crit": ["exp"]}, good))
    write("jwt", "0-bad-signature", "0" + token(hs, good, b"k" * 32))
    write("jwt", "0-padding", "0" + token(hs, good) + "==")
    write("jwt", "0-two-dots", "0a.b")
    write("jwt", "0-four-parts", "0" + token(hs, good) + ".x")
    # Mode 1: header and payload JSON, signed by the harness.
    write("jwt", "1-valid", "1" + json.dumps(hs) + "\n" + json.dumps(good))
    write("jwt", "1-duplicate-exp",
          '1{"alg":"HS256"}\n{"sub":"1","exp":1767229200,"exp":1,'
          '"iss":"trackly"}')
    write("jwt", "1-float-exp",
          '1{"alg":"HS256"}\n{"sub":"1","exp":1.5e9,"iss":"trackly","ver":0}')
    write("jwt", "1-huge-exp",
          '1{"alg":"HS256"}\n{"sub":"1","exp":1e300,"iss":"trackly"}')
    write("jwt", "1-sub-number",
          '1{"alg":"HS256","typ":"jwt"}\n{"sub":1,"exp":1767229200,'
          '"iss":"trackly"}')
    write("jwt", "1-long-sub",
          '1{"alg":"HS256"}\n{"sub":"' + "9" * 40 + '","exp":1767229200,'
          '"iss":"trackly"}')
    write("jwt", "1-nested",
          '1{"alg":"HS256"}\n{"exp":1767229200,"iss":"trackly","x":'
          + "[" * 50 + "]" * 50 + "}")
    # Mode 2: claims for the sign/verify round trip (four 8-byte integers,
    # then the has_ver bit and sub).
    write("jwt", "2-claims", b"2" + bytes(8) + (3600).to_bytes(8, "big")
          + bytes(8) + (7).to_bytes(8, "big") + b"\x0142")
    write("jwt", "2-sub-quotes", b"2" + bytes(32) + b'\x01"\\\n\x7f\xff')
    # Mode 3: base64url.
    write("jwt", "3-header", "3" + b64u(b'{"alg":"HS256","typ":"JWT"}'))
    write("jwt", "3-nonzero-bits", "3QR")
    write("jwt", "3-one-char", "3A")
    write("jwt", "3-standard-alphabet", "3ab+/")


def body_seeds():
    # Route by first byte (fuzz_body.c: byte % 7 picks the route, byte / 7
    # % 4 the minimum interval).  The seeds below spell the route as a
    # digit, 0 register, 1 login, 2 password, 3 delete, 4 create, 5 update,
    # 6 verify; write_body turns it into the byte '8' + digit, which gives
    # that route with the minimum interval 60.
    def write_body(name, data):
        raw = data if isinstance(data, bytes) else data.encode()
        route = raw[0] - ord("0")
        assert 0 <= route < 7, name
        write("body", name, bytes([ord("8") + route]) + raw[1:])

    cred = '{"email":"user@example.test","password":"long-enough-password"}'
    write_body("register", "0" + cred)
    write_body("register-spaces",
               '0{"email":"  User@Example.Test\\t","password":"12345678"}')
    write_body("register-short-password",
               '0{"email":"flood@example.test","password":"short"}')
    write_body("register-email-number", '0{"email":5,"password":"x"}')
    write_body("register-duplicate",
               '0{"email":"a@example.test","email":"b@example.test",'
               '"password":"long-enough-password"}')
    write_body("register-nul-escape",
               '0{"email":"a\\u0000@example.test","password":"12345678"}')
    write_body("register-surrogate",
               '0{"email":"a@example.test","password":"pass\\ud83d\\ude00word"}')
    write_body("register-lone-surrogate",
               '0{"email":"a@example.test","password":"pass\\ud800word-123"}')
    write_body("register-overlong",
               b'0{"email":"a@example.test","password":"pass\xc0\xafword-123"}')
    write_body("login", "1" + cred)
    write_body("login-null", '1{"email":null,"password":null}')
    write_body("login-long-email",
               '1{"email":"' + "a" * 300 + '@x.test","password":"p"}')
    write_body("password",
               '2{"current_password":"long-enough-password",'
               '"new_password":"another-long-password"}')
    write_body("password-missing-current",
               '2{"new_password":"another-long-password"}')
    write_body("delete", '3{"password":"long-enough-password"}')
    write_body("delete-array", '3{"password":["x"]}')
    write_body("create-minimal",
               '4{"name":"My Site","link":"https://example.com/health"}')
    write_body("create-full",
               '4{"name":"Shop","description":"the shop","link":'
               '"http://shop.example:8080/x?y#z","interval_seconds":120,'
               '"timeout_ms":5000,"expected_status":" 200 - 299 ,301,418",'
               '"keyword":"OK","failure_threshold":3,"recovery_threshold":2,'
               '"paused":true,"alerts_muted":false}')
    write_body("create-timeout-too-long",
               '4{"name":"x","link":"https://a.example","interval_seconds":60,'
               '"timeout_ms":60000}')
    write_body("create-ipv6",
               '4{"name":"v6","link":"https://[2001:db8::1]:443/"}')
    write_body("create-userinfo",
               '4{"name":"x","link":"https://user:pw@example.com/"}')
    write_body("create-ranges-16",
               '4{"name":"x","link":"https://a.example","expected_status":"'
               + ",".join(str(c) for c in range(200, 216)) + '"}')
    write_body("create-unicode-name",
               '4{"name":"Caf\\u00e9 \\u2603 \\ud83d\\ude00","link":"https://a.example"}')
    write_body("create-big-numbers",
               '4{"name":"x","link":"https://a.example","interval_seconds":1e3,'
               '"timeout_ms":9.2233720368547758e18,"failure_threshold":-0}')
    write_body("update-keyword-null", '5{"keyword":null}')
    write_body("update-keyword-empty", '5{"keyword":""}')
    write_body("update-interval", '5{"interval_seconds":600}')
    write_body("update-paused", '5{"paused":"yes"}')
    write_body("update-muted", '5{"alerts_muted":false}')
    write_body("update-name", '5{"name":"first, renamed"}')
    write_body("update-name-spaces", '5{"name":"   "}')
    write_body("nested", '5{"x":' + "[" * 33 + "]" * 33 + "}")
    write_body("not-object", "5[1,2]")
    write_body("trailing", '5{"name":"x"} x')
    write_body("leading-zero", '5{"interval_seconds":0600}')
    write_body("verify",
               '6{"token":"Qm9vdHN0cmFwLXRva2VuLWZvci10aGUtZnV6emVyLTAx"}')
    write_body("verify-number", '6{"token":42}')
    write_body("verify-null", '6{"token":null}')
    write_body("verify-not-token", '6{"token":"a.b\\r\\nX: y"}')


def link_seeds():
    for name, s in [
        ("https", "https://example.com/health?x=1#top"),
        ("http-port", "http://example.com:8080/"),
        ("port-zero", "http://example.com:0/"),
        ("port-big", "http://example.com:65536/"),
        ("ipv6", "https://[2001:db8::1]:8443/x"),
        ("ipv6-empty", "https://[]/"),
        ("ipv6-unclosed", "https://[::1/"),
        ("userinfo", "https://user:pass@example.com/"),
        ("at-in-path", "https://example.com/@me"),
        ("no-host", "https:///path"),
        ("upper-scheme", "HTTPS://EXAMPLE.COM"),
        ("javascript", "javascript:alert(1)"),
        ("space", "https://exa mple.com/"),
        ("percent-host", "https://%65xample.com/"),
        ("email", "user@example.test"),
        ("email-two-at", "a@b@example.test"),
        ("email-dots", "a@example..test"),
        ("email-long-local", "a" * 65 + "@example.test"),
        ("name", "My Site"),
        ("name-unicode", "Caf\u00e9 \u2603"),
        ("cidr-v4", "10.1.2.3/24"),
        ("cidr-v6", "fd00::/8"),
        ("cidr-mapped", "::ffff:127.0.0.1/128"),
        ("cidr-bad-prefix", "10.0.0.0/33"),
        ("cidr-minus", "10.0.0.0/-0"),
        ("cidr-plus", "10.0.0.0/+8"),
        ("metadata", "169.254.169.254"),
        ("nat64", "64:ff9b::7f00:1"),
        ("6to4", "2002:7f00:1::"),
        ("teredo", "2001::1"),
    ]:
        write("link", name, s)
    write("link", "utf8-overlong", b"\xc0\xaf")
    write("link", "utf8-surrogate", b"\xed\xa0\x80")
    write("link", "utf8-max", b"\xf4\x8f\xbf\xbf")
    write("link", "utf8-beyond", b"\xf4\x90\x80\x80")
    write("link", "raw-v6-loopback", bytes(15) + b"\x01")
    write("link", "raw-v4-mapped", bytes(10) + b"\xff\xff\x7f\x00\x00\x01")


def status_seeds():
    for name, s in [
        ("default", "200-399"),
        ("list", "200,301-302"),
        ("single", "204"),
        ("spaces", " 200 - 299 , 418 "),
        ("sixteen", ",".join(str(c) for c in range(200, 216))),
        ("seventeen", ",".join(str(c) for c in range(200, 217))),
        ("reversed", "399-200"),
        ("bounds", "100-599"),
        ("out-of-range", "099,600"),
        ("empty-item", "200,,300"),
        ("trailing-comma", "200,"),
        ("double-dash", "200--300"),
        ("plus", "+200"),
    ]:
        write("status", name, s)


def fcgi_seeds():
    def params(**kv):
        return "\n".join(f"{k}={v}" for k, v in kv.items())

    def request(name, method, uri, query=None, body=None, **more):
        """A seed of the parameters nginx sends for method and uri:
        QUERY_STRING is uri's query unless query says otherwise, then the
        parameters more, then body after a blank line."""
        kv = {"REQUEST_METHOD": method, "REQUEST_URI": uri}
        if query is None and "?" in uri:
            query = uri.split("?", 1)[1]
        if query is not None:
            kv["QUERY_STRING"] = query
        kv.update(more)
        data = params(**kv)
        if body is not None:
            data += "\n\n" + body
        write("fcgi", name, data)

    session = token({"alg": "HS256", "typ": "JWT"},
                    {"sub": "42", "exp": NOW + 60, "iss": "trackly", "ver": 1})
    request("get-project", "GET", "/project/42",
            HTTP_AUTHORIZATION="Bearer " + session)
    request("list-query", "GET", "/project?limit=10&offset=20",
            HTTP_AUTHORIZATION="bearer   abc.def.ghi")
    request("checks-limit", "GET", "/project/7/checks?limit=1000")
    request("checks-page", "GET", "/project/7/checks?limit=5&offset=100000")
    request("incidents-page", "GET",
            "/project/7/incidents?limit=101&offset=-1")
    request("series-range", "GET", "/project/7/series?range=24h&range=7d")
    request("status-recent", "GET", "/project/status?recent=30",
            query="recent=30&recent=101")
    request("verify-token", "GET", "/user/verify?token=a%2Bb+c")
    body = '{"token":"Qm9vdHN0cmFwLXRva2VuLWZvci10aGUtZnV6emVyLTAx"}'
    request("verify-post", "POST", "/user/verify", body=body,
            CONTENT_LENGTH=str(len(body)))
    request("verify-redirect-crlf", "GET", "/user/verify?token=a%0D%0AX:1",
            query="token=a%0D%0AX:1&token=ok")
    request("verify-resend", "POST", "/user/verify/resend",
            HTTP_AUTHORIZATION="Bearer x.y.z")
    request("cookie-session", "GET", "/user/me",
            HTTP_COOKIE=f"theme=dark; trackly_session={session}; lang=en",
            HTTP_X_REQUESTED_WITH="trackly", HTTP_SEC_FETCH_SITE="same-origin")
    request("cookie-cross-site", "POST", "/project",
            HTTP_COOKIE='trackly_session="a b"; trackly_session=x',
            HTTP_SEC_FETCH_SITE="cross-site")
    request("signout", "POST", "/user/signout",
            HTTP_X_REQUESTED_WITH="trackly", HTTPS="on")
    request("mute-post", "POST", "/project/mute?token=%00",
            query="token=%00&token=x")
    request("preflight", "OPTIONS", "/project/1",
            HTTP_ORIGIN="http://allowed.test")
    request("method-not-allowed", "PATCH", "/project/1",
            HTTP_ORIGIN="http://evil.test")
    request("encoded-slash", "GET", "/project/1%2F2")
    request("traversal", "GET", "/project/../user/me")
    request("id-overflow", "GET", "/project/9223372036854775808")
    request("id-leading-zero", "DELETE", "/project/007")
    request("long-path", "GET", "/" + "a" * 1100)
    write("fcgi", "document-uri", params(
        REQUEST_METHOD="GET", DOCUMENT_URI="/healthcheck"))
    write("fcgi", "positional", "PUT\n/project/5/uptime?x\nx=1\nBearer x\n")
    request("content-length", "POST", "/user/login",
            CONTENT_LENGTH="99999999999999999999")


def mail_seeds():
    down = {"project_id": 7, "project_name": "My Site",
            "link": "https://site.example/health",
            "reason": "connection refused", "since": "2026-11-27T08:21:03Z",
            "mute_link": "https://trackly.example.com/mute?token=abc",
            "unsubscribe_url":
                "https://trackly.example.com/project/mute?token=abc"}
    tail = ("\nowner@example.org\nTrackly <trackly@example.com>\n"
            "https://trackly.example.com\n")
    write("mail", "verify", "0" + json.dumps(
        {"link": "https://trackly.example.com/verify?token=t0k3n"})
        + tail + "plain")
    write("mail", "down", "1" + json.dumps(down) + tail + "<b>&amp;</b>")
    write("mail", "reminder", "2" + json.dumps(
        dict(down, down_seconds=100800)) + tail + "x")
    write("mail", "recovered", "3" + json.dumps(
        dict(down, until="2026-11-27T09:00:00+01:00", down_seconds=7500))
        + tail + "y")
    write("mail", "test", "4{}" + tail)
    write("mail", "unknown-kind", "5{}" + tail)
    write("mail", "header-injection", "1" + json.dumps(
        dict(down, project_name="x\r\nBcc: victim@example.org",
             mute_link="https://a.example/\r\nX-Evil: 1")) + tail
        + "a\r\nb")
    write("mail", "html-injection", "1" + json.dumps(
        dict(down, project_name="<script>alert(1)</script>",
             link="javascript:alert(1)", reason='"><img src=x>',
             mute_link='https://a.example/"onmouseover="x'))
        + tail + "'\"<>&")
    write("mail", "encoded-word", "1" + json.dumps(
        dict(down, project_name="=?UTF-8?B?SGk=?= Caf\u00e9 \u2603 " * 5))
        + tail + "\u00e9" * 40)
    write("mail", "bad-utf8", b"1" + json.dumps(
        dict(down, project_name="A")).encode().replace(b'"A"', b'"\xff\xc0A"')
        + tail.encode() + b"\xed\xa0\x80")
    write("mail", "from-display-name", "4{}\nowner@example.org\n"
          "Trackly \u00dcberwachung <t@example.com>\nhttp://[::1]:8080\n")
    write("mail", "long-name", "1" + json.dumps(
        dict(down, project_name="x" * 200)) + tail)
    write("mail", "times", "3" + json.dumps(
        dict(down, since="1969-12-31T23:59:59Z", until="9999-12-31 23:59:60.5-23:59",
             down_seconds=-5)) + tail)


if __name__ == "__main__":
    jwt_seeds()
    body_seeds()
    link_seeds()
    status_seeds()
    fcgi_seeds()
    mail_seeds()
