#!/usr/bin/env python3
"""reference_check.py - scores the classifier's verdicts on the documented replies.

usage: tests/tools/reference_check.py [--errors] [BOUNCEDEMAILS [REFERENCE]]

Every table row of ../shared/reference/smtp-replies.md (read in place, never copied) that
quotes a wording and gives a category becomes one DSN: its reply and status codes and its
quoted wording as the Diagnostic-Code. `bouncedemails classify --json` reads them all, and
each verdict is compared with the row's category (address-bad = permanent; mailbox-temp and
transient = temporary; block and content = ignore; `other` rows are left out, a row with two
labels accepts either). Prints the agreement per category and, with --errors, every
mismatch. The rows are paraphrases and some codes are placeholders, so this is a check of
what documented wording does, not a score to tune on: it prints, it never fails.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

CATEGORY = {'address-bad': 'hard', 'mailbox-temp': 'soft', 'transient': 'soft', 'block': 'block',
            'content': 'block', 'other': 'other'}
VERDICT = {'permanent': 'hard', 'temporary': 'soft', 'ignore': 'block'}
LABEL = re.compile(r'`(address-bad|mailbox-temp|block|content|transient|other)`')

DSN = """From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: no-reply@platform.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822;user@example.org
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--b1--
"""


def rows(path):
    section = ''
    for line in open(path, encoding='utf-8'):
        if line.startswith('#'):
            section = line.strip('# \n')
        if not line.startswith('|'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        labelled = [c for c in cells if LABEL.search(c)]
        words = re.findall(r'"([^"]+)"', cells[1]) if len(cells) > 1 else []
        if not labelled or not words:
            continue
        reply = re.search(r'\b([245]\d\d)\b', cells[0])
        status = re.search(r'\b([245])\.(\d{1,3})\.(\d{1,3})\b', cells[0])
        reply = reply.group(1) if reply else ''
        status = '.'.join(status.groups()) if status else ''
        want = {CATEGORY[c] for c in LABEL.findall(labelled[0])}
        yield dict(section=section, codes=cells[0], reply=reply, status=status,
                   wording=' '.join(words), want=want)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    here = os.path.dirname(os.path.abspath(__file__))
    binary = args[0] if args else os.path.join(here, '..', '..', 'build', 'bouncedemails')
    reference = args[1] if len(args) > 1 else os.path.join(here, '..', '..', '..', 'shared', 'reference',
                                                           'smtp-replies.md')
    table = [r for r in rows(reference) if r['want'] != {'other'}]
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(table):
            status = r['status'] or ('4.0.0' if r['reply'].startswith('4') else '5.0.0')
            diagnostic = ' '.join(x for x in (r['reply'], r['status'], r['wording']) if x)
            with open(os.path.join(tmp, f'r{i:04d}.eml'), 'w', encoding='utf-8') as f:
                f.write(DSN.format(status=status, diagnostic=diagnostic))
        out = subprocess.run([binary, 'classify', '--json', tmp], capture_output=True, check=True).stdout
    agree, total, errors = collections.Counter(), collections.Counter(), []
    for line in out.decode('utf-8').splitlines():
        o = json.loads(line)
        r = table[int(os.path.basename(o['source'])[1:5])]
        got = VERDICT.get(o['recipients'][0]['verdict'], '?') if o['recipients'] else 'none'
        ok = got in r['want'] or ('other' in r['want'] and got == 'block')
        key = '/'.join(sorted(r['want']))
        total[key] += 1
        agree[key] += ok
        if not ok:
            errors.append(f"  {r['section'][:24]:24} {r['codes'][:16]:16} want {key}, said {got} "
                          f"({o['recipients'][0]['reason'] if o['recipients'] else '-'}): {r['wording'][:70]}")
    print(f"documented replies: {sum(agree.values())} of {sum(total.values())} get their category")
    for key in sorted(total):
        print(f"  {key:12} {agree[key]:4} / {total[key]}")
    if '--errors' in sys.argv:
        print('\n'.join(errors))


if __name__ == '__main__':
    main()
