#!/usr/bin/env python3
# smtptime.py - per-step SMTP latency, one session at a time.
#
# usage: smtptime.py HOST PORT COUNT [SENDER [RCPT]]
#
# Sends COUNT messages (plus one warm-up message that is not counted), each in
# its own SMTP session, and times every step with time.perf_counter():
# connect (TCP connect to the 220 greeting), ehlo, mail, rcpt, and data
# (DATA, the 354 reply, the message and the final reply to the end of data).
# Prints one line per step: "step=NAME n=N p50_ms=.. p90_ms=.. max_ms=..",
# then "errors=N" (it gives up after 3 errors). Exit 0 when every message was accepted, 1 otherwise.
#
# SPDX-License-Identifier: BSD-2-Clause

import smtplib
import sys
import time

STEPS = ("connect", "ehlo", "mail", "rcpt", "data")


def pct(values, p):
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, int(p * len(values) + 0.999999) - 1))
    return values[k]


def one(host, port, sender, rcpt, body, times):
    """Send one message in its own session; append each step's seconds to times."""
    t = time.perf_counter()
    s = smtplib.SMTP(host, port, timeout=30)
    times["connect"].append(time.perf_counter() - t)
    try:
        t = time.perf_counter()
        code, _ = s.ehlo("bench.example")
        times["ehlo"].append(time.perf_counter() - t)
        t = time.perf_counter()
        code, _ = s.mail(sender)
        times["mail"].append(time.perf_counter() - t)
        if code != 250:
            return False
        t = time.perf_counter()
        code, _ = s.rcpt(rcpt)
        times["rcpt"].append(time.perf_counter() - t)
        if code not in (250, 251):
            return False
        t = time.perf_counter()
        code, _ = s.data(body)
        times["data"].append(time.perf_counter() - t)
        return code == 250
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            s.close()


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: smtptime.py HOST PORT COUNT [SENDER [RCPT]]\n")
        return 2
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sender = sys.argv[4] if len(sys.argv) > 4 else "alice@example.com"
    rcpt = sys.argv[5] if len(sys.argv) > 5 else "bob@ext.example"
    body = ("From: %s\r\nTo: %s\r\nSubject: timing\r\n\r\n" % (sender, rcpt)
            + "a line of text to make the body look like mail.\r\n" * 40)
    errors = 0
    warm = {k: [] for k in STEPS}
    try:
        one(host, port, sender, rcpt, body, warm)
    except (OSError, smtplib.SMTPException):
        errors += 1
    times = {k: [] for k in STEPS}
    for _ in range(count):
        if errors >= 3:
            break
        try:
            if not one(host, port, sender, rcpt, body, times):
                errors += 1
        except (OSError, smtplib.SMTPException) as e:
            sys.stderr.write("smtptime: %s\n" % e)
            errors += 1
    for k in STEPS:
        v = sorted(times[k])
        print("step=%s n=%d p50_ms=%.3f p90_ms=%.3f max_ms=%.3f"
              % (k, len(v), pct(v, 0.5) * 1e3, pct(v, 0.9) * 1e3, (v[-1] if v else 0) * 1e3))
    print("errors=%d" % errors)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
