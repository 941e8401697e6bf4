/*
 * callbacks.h - the xxfi_* callbacks and the shared runtime they pin.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_CALLBACKS_H
#define PM_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "conf.h"
#include "store.h"

/* A configuration and the store built from it, shared by connections. */
struct pm_runtime {
    struct pm_conf *conf;
    struct pm_store *store;
    int refs; /* guarded by the runtime lock in callbacks.c */
};

/* Make rt the runtime new connections pin (takes ownership). */
void pm_runtime_install(struct pm_runtime *rt);

/* Drop the installed runtime (at shutdown); freed when the last pin goes. */
void pm_runtime_shutdown(void);

/* Pin the current runtime (for the metrics refresher); NULL when none. */
struct pm_runtime *pm_runtime_pin(void);

/* Release a runtime pinned with pm_runtime_pin(). */
void pm_runtime_release(struct pm_runtime *rt);

/* The libmilter registration description with every callback. */
extern struct smfiDesc pm_milter_desc;

#endif
