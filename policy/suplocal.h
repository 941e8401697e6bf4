/*
 * suplocal.h - this server's copy of the suppression lists, so that a
 * recipient surely not on its company's list is let through at RCPT without
 * asking the store (see suplocal.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SUPLOCAL_H
#define PM_SUPLOCAL_H

/* 1 when rcpt (normalised) may be on company's suppression list, or this
 * server's copy cannot tell (not loaded, behind): ask the store; 0 when it
 * surely is not. */
int pm_suplocal_maybe(const char *company, const char *rcpt);

#endif
