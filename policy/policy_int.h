/*
 * policy_int.h - what the files of the engine's face (policy.c,
 * policy_known.c) share, and nothing else includes.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_POLICY_INT_H
#define PM_POLICY_INT_H

#include "policy.h"
#include "sknow.h"

/* policy.c: log a store failure at stage (rate-limited); fill a request for
 * m adding one message (internal: to colleagues only) and rcpts external
 * recipients, hashes (n) the recipients to look up; follow a plan override
 * the store reported in m->res; turn an answer that does not fit into v
 * (at_rcpt: for the recipient just asked about). */
void pm_policy_store_error(const char *stage, const char *err);
void pm_policy_request(const struct pm_conf *conf, const struct pm_msg *m, enum pm_meter_mode mode,
                       int internal, long long rcpts, const char *const *hashes, size_t n,
                       struct pm_meter_req *req);
void pm_policy_adopt(const struct pm_conf *conf, struct pm_msg *m);
void pm_policy_over(const struct pm_conf *conf, const struct pm_msg *m,
                    const struct pm_meter_res *res, int at_rcpt, struct pm_verdict *v);

/* policy_known.c: send a request for m's sender (carrying the refusals
 * decided without the store; the answer becomes what the daemon knows);
 * decide a recipient from that knowledge (GO, REFUSE with v set, or ASK);
 * whether the content rules match alike for every cold count the
 * recipients of unknown status may bring; name m's first cold recipient from
 * an answer's cold_first among m's hashes index[0..n) (NULL: all in order);
 * ask the store which recipients of unknown status are cold. */
int pm_policy_meter(const struct pm_conf *conf, struct pm_store *store, const struct pm_msg *m,
                    struct pm_meter_req *req, struct pm_meter_res *res, char *err, size_t errlen);
enum pm_sknow_act pm_policy_known(const struct pm_conf *conf, struct pm_msg *m, int ext,
                                  const char *addr, struct pm_verdict *v);
int pm_policy_rules_settled(const struct pm_conf *conf, struct pm_msg *m);
void pm_policy_name_cold(struct pm_msg *m, const size_t *index, size_t n, int cold_first);
int pm_policy_cold_lookup(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
                          char *err, size_t errlen);

#endif
