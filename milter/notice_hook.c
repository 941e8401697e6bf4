/*
 * notice_hook.c - the webhook of an incident: one HTTP POST of a JSON body
 * to notify.webhook_url, with libcurl.
 *
 *   {"sender":"alice@example.com","signal":"burst","figures":"41 messages
 *    in 10 minutes; ...","at":1796000000,"action":"held","held":3,
 *    "ids":["4XyZ1","4XyZ2"],"by":"postmeter","note":""}
 *
 * The whole request (connect included) is bounded by
 * notify.webhook_timeout_ms; no redirect is followed; only http and https
 * are spoken; an answer other than 2xx is a failure.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "notice_int.h"

/* Start libcurl once, before any thread uses it; 0 or -1. */
int
pm_notice_hook_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* Stop libcurl. */
void
pm_notice_hook_done(void)
{
    curl_global_cleanup();
}

/* The webhook's JSON body of inc. */
void
pm_notice_hook_json(struct pm_buf *b, const struct pm_incident *inc, const char *action)
{
    const char *ids = inc->ids, *id;
    char one[sizeof(inc->ids)];
    size_t n;
    int first = 1;

    pm_buf_str(b, "{\"sender\":");
    pm_buf_json_str(b, inc->sender);
    pm_buf_str(b, ",\"signal\":");
    pm_buf_json_str(b, inc->signal);
    pm_buf_str(b, ",\"figures\":");
    pm_buf_json_str(b, inc->figures);
    pm_buf_printf(b, ",\"at\":%lld,\"action\":", inc->at);
    pm_buf_json_str(b, action);
    pm_buf_printf(b, ",\"held\":%lld,\"ids\":[", inc->held);
    while ((id = pm_incident_id_next(&ids, &n)) != NULL) {
        snprintf(one, sizeof(one), "%.*s", (int)n, id);
        pm_buf_str(b, first ? "" : ",");
        pm_buf_json_str(b, one);
        first = 0;
    }
    pm_buf_str(b, "],\"by\":");
    pm_buf_json_str(b, inc->by);
    pm_buf_str(b, ",\"note\":");
    pm_buf_json_str(b, inc->note);
    pm_buf_str(b, "}");
}

/* Throw the answer's body away. */
static size_t
discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

/* Post body to the webhook; 0 on a 2xx answer. */
int
pm_notice_hook_post(const struct notice_cfg *c, const char *body, char *why, size_t whylen)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char cerr[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURL *h = curl_easy_init();
    CURLcode rc;
    int ok = -1;

    if (!h || !hdr) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->hook_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->hook_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "postmeter");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    if ((rc = curl_easy_perform(h)) != CURLE_OK) {
        snprintf(why, whylen, "%s", *cerr ? cerr : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        snprintf(why, whylen, "HTTP status %ld", code);
        goto out;
    }
    ok = 0;
out:
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    return ok;
}
