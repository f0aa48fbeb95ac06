#!/usr/bin/python3
"""check_mail.py - rendered mail read by Python's standard email parser.

Runs tests/unit/mail_samples (its path is the one argument) into a
temporary directory and parses each NAME.eml with
email.parser.BytesParser(policy=email.policy.strict), as an independent
reader would, checking against NAME.json beside it:

  - CRLF line ends only, no line over 998 characters, and none over 78
    outside a header that cannot be folded shorter;
  - the headers parse with no defect and Subject decodes to the expected
    text (non-ASCII and very long subjects included);
  - the body is multipart/alternative with a text/plain and a text/html
    part, both UTF-8 in base64, decoding to text that holds the expected
    line (text) and string (HTML).

Exits 0 when every sample passes, 1 otherwise, one line per failure.
"""
import email.parser
import email.policy
import json
import os
import subprocess
import sys
import tempfile


def check(path, want):
    """The failures of one message, as a list of strings."""
    errors = []
    with open(path, 'rb') as f:
        raw = f.read()
    if b'\n' in raw.replace(b'\r\n', b'') or b'\r' in raw.replace(b'\r\n', b''):
        errors.append('a bare CR or LF')
    for n, line in enumerate(raw.split(b'\r\n'), 1):
        if len(line) > 998:
            errors.append('line %d is %d characters' % (n, len(line)))
        elif len(line) > 78 and not line.startswith(b'List-Unsubscribe'):
            errors.append('line %d is over 78 characters' % n)

    msg = email.parser.BytesParser(policy=email.policy.strict).parsebytes(raw)
    for part in msg.walk():
        if part.defects:
            errors.append('defects: %r' % part.defects)
    for name in ('From', 'To', 'Date', 'Message-ID', 'MIME-Version'):
        if len(msg.get_all(name) or []) != 1:
            errors.append('not one %s header' % name)
    if str(msg['Subject']) != want['subject']:
        errors.append('Subject %r, want %r' % (str(msg['Subject']),
                                               want['subject']))
    if msg.get_content_type() != 'multipart/alternative':
        errors.append('Content-Type %s' % msg.get_content_type())
        return errors
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    if types != ['text/plain', 'text/html']:
        errors.append('parts %r' % types)
        return errors
    for p, key in zip(parts, ('text', 'html')):
        if p.get_content_charset() != 'utf-8' or p['Content-Transfer-Encoding'] != 'base64':
            errors.append('%s part is not UTF-8 in base64' % key)
        body = p.get_payload(decode=True).decode('utf-8')
        if key == 'text' and want[key] not in body.split('\r\n'):
            errors.append('text part has no line %r' % want[key])
        if key == 'html' and want[key] not in body:
            errors.append('HTML part has no %r' % want[key])
    return errors


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: check_mail.py MAIL_SAMPLES')
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.argv[1], tmp], check=True)
        names = sorted(n[:-4] for n in os.listdir(tmp) if n.endswith('.eml'))
        if not names:
            sys.exit('no samples')
        for name in names:
            with open(os.path.join(tmp, name + '.json'), encoding='utf-8') as f:
                want = json.load(f)
            for e in check(os.path.join(tmp, name + '.eml'), want):
                print('%s: %s' % (name, e))
                failed = 1
        print('%d messages checked' % len(names))
    sys.exit(failed)


if __name__ == '__main__':
    main()
