/*
 * test_http.c: the metrics listener's request parsing, and the status
 * page's escaping.
 */
#include <string.h>

#include "http.h"
#include "page.h"
#include "unit.h"

static int
code_of(const char *head)
{
	struct http_request r;
	size_t		    end = http_head_end(head, strlen(head));

	http_parse(head, end > 0 ? end : strlen(head), &r);
	return r.head ? -r.code : r.code;
}

TEST(http_head_end_finds_the_empty_line)
{
	CHECK(http_head_end("GET / HTTP/1.1\r\n\r\n", 18) == 18);
	CHECK(http_head_end("GET / HTTP/1.1\n\nbody", 20) == 16);
	CHECK(http_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25) == 0);
	CHECK(http_head_end("", 0) == 0);
	CHECK(http_head_end("\n", 1) == 0);
}

TEST(http_parse_routes)
{
	CHECK(code_of("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n") == 200);
	CHECK(code_of("GET /metrics HTTP/1.0\r\n\r\n") == 200);
	CHECK(code_of("GET /metrics?name[]=x HTTP/1.0\r\n\r\n") == 200);
	CHECK(code_of("HEAD /metrics HTTP/1.1\r\n\r\n") == -200);
	CHECK(code_of("GET / HTTP/1.1\r\n\r\n") == 200);
	CHECK(code_of("GET /?x=1 HTTP/1.1\r\n\r\n") == 200);
	CHECK(code_of("HEAD / HTTP/1.1\r\n\r\n") == -200);
	CHECK(code_of("POST / HTTP/1.1\r\n\r\n") == 405);
	CHECK(code_of("GET /index.html HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /jobs/0123456789abcdef HTTP/1.1\r\n\r\n") == 200);
	CHECK(code_of("GET /jobs/0123456789ABCDEF HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /jobs/0123456789abcde HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /jobs/0123456789abcdef0 HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /jobs/../../etc/passwd HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /jobs/ HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /metricsx HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("GET /other HTTP/1.1\r\n\r\n") == 404);
	CHECK(code_of("POST /metrics HTTP/1.1\r\n\r\n") == 405);
	CHECK(code_of("get /metrics HTTP/1.1\r\n\r\n") == 405);
	CHECK(code_of("GET /metrics HTTP/2.0\r\n\r\n") == 505);
}

TEST(http_parse_names_the_route_and_job)
{
	struct http_request r;
	const char *h = "GET /jobs/00ff00ff00ff00ff?a HTTP/1.1\r\n\r\n";

	http_parse(h, strlen(h), &r);
	CHECK(r.code == 200 && r.route == HTTP_JOB);
	CHECK(strcmp(r.job, "00ff00ff00ff00ff") == 0);
	h = "GET / HTTP/1.0\r\n\r\n";
	http_parse(h, strlen(h), &r);
	CHECK(r.code == 200 && r.route == HTTP_PAGE);
	h = "GET /metrics HTTP/1.0\r\n\r\n";
	http_parse(h, strlen(h), &r);
	CHECK(r.code == 200 && r.route == HTTP_METRICS);
}

TEST(page_escape_leaves_no_markup)
{
	struct buf b = { 0 };

	CHECK(page_escape(&b, "<script>alert('x&y')</script> \"q\"") == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK(strcmp(b.data,
		  "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt; "
		  "&quot;q&quot;") == 0);
	b.len = 0;
	CHECK(page_escape(&b, "") == 0 && b.len == 0);
	CHECK(page_escape(&b, "plain-name_1") == 0 && b.len == 12);
	CHECK(memcmp(b.data, "plain-name_1", 12) == 0);
	buf_free(&b);
}

TEST(http_parse_refuses_garbage)
{
	CHECK(code_of("garbage\r\n\r\n") == 400);
	CHECK(code_of("\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics\r\n\r\n") == 400);
	CHECK(code_of("GET  /metrics HTTP/1.1\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.1 \r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.10\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics http/1.1\r\n\r\n") == 400);
	CHECK(code_of("G(T /metrics HTTP/1.1\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.1\r\nno colon\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.1\r\n: empty\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.1\r\nA\x01: b\r\n\r\n") == 400);
	CHECK(code_of("GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n") == 400);
	CHECK(code_of("GET /met\x7f HTTP/1.1\r\n\r\n") == 400);
}

TEST(http_status_is_a_whole_answer)
{
	char   buf[512];
	size_t n;

	n = http_status(buf, sizeof(buf), 405, "Method Not Allowed");
	CHECK(n > 0 && n == strlen(buf));
	CHECK(strncmp(buf, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	CHECK(strstr(buf, "\r\nAllow: GET, HEAD\r\n") != NULL);
	CHECK(strstr(buf, "\r\nContent-Length: 19\r\n") != NULL);
	CHECK(
	    strstr(buf, "\r\nConnection: close\r\n\r\nMethod Not Allowed\n") !=
	    NULL);
	CHECK(http_status(buf, 16, 403, "Access denied") == 0);
}
