/*
 * metrics_http.h - the Prometheus endpoint (GET /metrics) and the thread that
 * refreshes the per-sender quota gauges.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_METRICS_HTTP_H
#define PM_MILTER_METRICS_HTTP_H

/* Start serving on listen ("a.b.c.d:port", "[v6]:port"; "" = off); 0 ok, -1
 * when the address cannot be used (logged; mail flow is not affected). */
int pm_metrics_http_start(const char *listen);

/* After a reload: move the endpoint when listen changed, else keep it. */
void pm_metrics_http_reload(const char *listen);

/* Stop serving and refreshing (at exit). */
void pm_metrics_http_stop(void);

#endif
