/* test-error.c: error classification, the decision the UI makes from an error
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "confab-error.h"

static void
test_api_error_carries_status (void)
{
  g_autoptr(GError) error = confab_api_error_new (CONFAB_API_ERROR_INPUT, 400,
                                                  "SendMessage failed with error: \"a message with ID x already exists\"");
  g_autoptr(GError) copy = g_error_copy (error);

  g_assert_error (error, CONFAB_API_ERROR, CONFAB_API_ERROR_INPUT);
  g_assert_cmpuint (confab_api_error_get_http_status (error), ==, 400);
  /* The status survives g_error_copy (an extended error domain). */
  g_assert_cmpuint (confab_api_error_get_http_status (copy), ==, 400);
  g_assert_cmpuint (confab_error_classify (error), ==, CONFAB_ERROR_REJECTED);
  g_assert_false (confab_error_is_transient (error));
}

static void
test_api_codes (void)
{
  const struct {
    int             code;
    guint           status;
    ConfabErrorCode expected;
    gboolean        transient;
  } cases[] = {
    { CONFAB_API_ERROR_TOKEN_EXPIRED, 401, CONFAB_ERROR_TOKEN_EXPIRED, FALSE },
    { CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID, 401, CONFAB_ERROR_AUTH, FALSE },
    { CONFAB_API_ERROR_AUTH, 401, CONFAB_ERROR_AUTH, FALSE },
    { CONFAB_API_ERROR_ACCESS_KEY, 401, CONFAB_ERROR_AUTH, FALSE },
    { CONFAB_API_ERROR_RATE_LIMIT, 429, CONFAB_ERROR_RATE_LIMITED, TRUE },
    { CONFAB_API_ERROR_CONNECTION_ID_NOT_FOUND, 400, CONFAB_ERROR_CONNECTION_LOST, TRUE },
    { CONFAB_API_ERROR_INTERNAL, 500, CONFAB_ERROR_SERVER, TRUE },
    { CONFAB_API_ERROR_NOT_ALLOWED, 403, CONFAB_ERROR_REJECTED, FALSE },
    { 1234, 503, CONFAB_ERROR_SERVER, TRUE },
    { 1234, 429, CONFAB_ERROR_RATE_LIMITED, TRUE },
    { 1234, 404, CONFAB_ERROR_REJECTED, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = confab_api_error_new (cases[i].code, cases[i].status, "x");

      g_assert_cmpuint (confab_error_classify (error), ==, cases[i].expected);
      g_assert_cmpint (confab_error_is_transient (error), ==, cases[i].transient);
    }
}

static void
test_other_domains (void)
{
  const struct {
    GQuark          domain;
    int             code;
    ConfabErrorCode expected;
  } cases[] = {
    { G_IO_ERROR, G_IO_ERROR_TIMED_OUT, CONFAB_ERROR_TIMEOUT },
    { G_IO_ERROR, G_IO_ERROR_CANCELLED, CONFAB_ERROR_FAILED },
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, CONFAB_ERROR_NETWORK },
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, CONFAB_ERROR_CONNECTION_LOST },
    { G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, CONFAB_ERROR_STORAGE },
    { G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, CONFAB_ERROR_TLS },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, CONFAB_ERROR_NETWORK },
    { SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET, CONFAB_ERROR_UPGRADE_REJECTED },
    { SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_FAILED, CONFAB_ERROR_PROTOCOL },
    { G_FILE_ERROR, G_FILE_ERROR_ACCES, CONFAB_ERROR_STORAGE },
    { CONFAB_ERROR, CONFAB_ERROR_BUSY, CONFAB_ERROR_BUSY },
    { G_OPTION_ERROR, G_OPTION_ERROR_FAILED, CONFAB_ERROR_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (cases[i].domain, cases[i].code, "x");

      g_assert_cmpuint (confab_error_classify (error), ==, cases[i].expected);
    }
}

static void
test_transient (void)
{
  g_autoptr(GError) tls = g_error_new_literal (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, "x");
  g_autoptr(GError) lost = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_CONNECTION_LOST, "x");
  g_autoptr(GError) insecure = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL, "x");
  g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "x");

  /* A certificate problem is never retried into success. */
  g_assert_false (confab_error_is_transient (tls));
  g_assert_true (confab_error_is_transient (lost));
  g_assert_false (confab_error_is_transient (insecure));
  g_assert_false (confab_error_is_transient (cancelled));
  g_assert_false (confab_api_error_code_is_retryable (CONFAB_API_ERROR_TOKEN_SIGNATURE_INVALID));
  g_assert_true (confab_api_error_code_is_retryable (CONFAB_API_ERROR_RATE_LIMIT));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/error/api-error-carries-status", test_api_error_carries_status);
  g_test_add_func ("/core/error/api-codes", test_api_codes);
  g_test_add_func ("/core/error/other-domains", test_other_domains);
  g_test_add_func ("/core/error/transient", test_transient);

  return g_test_run ();
}
