// What ModSecurity costs per request, without nginx, TLS or the machine's load (docs/edge.md,
// "Where the edge's time goes"): runs N transactions of an image GET through libmodsecurity's
// C API (the calls the nginx connector makes, response included) with a rules file such as
// DIR/edge/modsecurity/main.conf of a running deploy/edge/start.sh, and prints the CPU time
// per transaction and the last intervention's status (403 when the rules block the request).
// Under callgrind the count of instructions per transaction is exact and load-independent:
//
//   gcc -O2 -o /tmp/modsec_cost bench/modsec_cost.c -lmodsecurity   # libmodsecurity-dev
//   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/dev/null
//     /tmp/modsec_cost DIR/edge/modsecurity/main.conf 20 browser    (one line; "Collected" / 20)
//
// usage: modsec_cost RULES_FILE N [minimal|cookieless|browser] [URI]
//   minimal: Host and User-Agent (what wrk sends); cookieless: Host and Chrome's 11 headers for
//   an <img> (bench/edge.sh's); browser: the same plus 3 analytics cookies. URI defaults to
//   /landscape.jpg?w=400.
#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

static void no_log(void* data, const void* message) {
  (void)data;
  (void)message;
}

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  static const char* headers[][2] = {
      {"Host", "127.0.0.1:19301"},
      {"User-Agent",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/121.0.0.0 Safari/537.36"},
      {"Accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
      {"Accept-Encoding", "gzip, deflate, br"},
      {"Accept-Language", "en-GB,en;q=0.9,de;q=0.8"},
      {"Referer", "https://shop.example.com/products/shoes?utm_source=news&page=2"},
      {"Sec-Fetch-Dest", "image"},
      {"Sec-Fetch-Mode", "no-cors"},
      {"Sec-Fetch-Site", "cross-site"},
      {"sec-ch-ua", "\"Not A(Brand\";v=\"99\", \"Google Chrome\";v=\"121\", \"Chromium\";v=\"121\""},
      {"sec-ch-ua-mobile", "?0"},
      {"sec-ch-ua-platform", "\"Windows\""},
      {"Cookie", "_ga=GA1.1.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; consent=yes"}};
  if (argc < 3) {
    fprintf(stderr, "usage: %s RULES_FILE N [minimal|cookieless|browser] [URI]\n", argv[0]);
    return 2;
  }
  const char* kind = argc > 3 ? argv[3] : "minimal";
  const char* uri = argc > 4 ? argv[4] : "/landscape.jpg?w=400";
  int count = strcmp(kind, "browser") == 0 ? 13 : strcmp(kind, "cookieless") == 0 ? 12 : 2;
  int transactions = atoi(argv[2]);

  ModSecurity* modsec = msc_init();
  msc_set_log_cb(modsec, no_log);
  RulesSet* rules = msc_create_rules_set();
  const char* error = NULL;
  if (msc_rules_add_file(rules, argv[1], &error) < 0) {
    fprintf(stderr, "%s: %s\n", argv[1], error);
    return 1;
  }

  int status = 0;
  CALLGRIND_START_INSTRUMENTATION;  // the rules' loading above is not counted
  double start = cpu_seconds();
  for (int i = 0; i < transactions; i++) {
    Transaction* t = msc_new_transaction(modsec, rules, NULL);
    msc_process_connection(t, "127.0.0.1", 40000, "127.0.0.1", 19301);
    msc_process_uri(t, uri, "GET", "1.1");
    for (int k = 0; k < count; k++) {
      msc_add_request_header(t, (const unsigned char*)headers[k][0], (const unsigned char*)headers[k][1]);
    }
    msc_process_request_headers(t);
    msc_process_request_body(t);
    ModSecurityIntervention it = {200, 0, NULL, NULL, 0};
    if (msc_intervention(t, &it)) status = it.status;
    free(it.url);
    free(it.log);
    msc_add_response_header(t, (const unsigned char*)"Content-Type", (const unsigned char*)"image/webp");
    msc_add_response_header(t, (const unsigned char*)"Content-Length", (const unsigned char*)"7634");
    msc_process_response_headers(t, 200, "HTTP 1.1");
    msc_process_response_body(t);
    msc_process_logging(t);
    msc_transaction_cleanup(t);
  }
  double seconds = cpu_seconds() - start;
  printf("%.1f us CPU per transaction (%s, %d headers), last intervention status %d\n",
         seconds / transactions * 1e6, kind, count, status);
  msc_rules_cleanup(rules);
  msc_cleanup(modsec);
  return 0;
}
