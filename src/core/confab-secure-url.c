/* confab-secure-url.c: the https/wss-only rule, with loopback as the one exception
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "confab-error.h"
#include "confab-secure-url.h"

gboolean
confab_host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;

  if (host == NULL || *host == '\0')
    return FALSE;

  /* "localhost" is loopback by RFC 6761; a trailing dot is the same name. */
  if (g_ascii_strcasecmp (host, "localhost") == 0 ||
      g_ascii_strcasecmp (host, "localhost.") == 0)
    return TRUE;

  /* Only a literal address: a name (even "127.0.0.1.example.com") goes through DNS,
   * which anyone on the path can answer. */
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/* A literal address, or a DNS name (IDN allowed) made of letters, digits, '-', '_'
 * and '.'; GUri lets through what libsoup then refuses, such as a space. */
static gboolean
host_is_valid (const char *host)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);
  g_autofree char *ascii = NULL;

  if (address != NULL)
    return TRUE;
  ascii = g_hostname_to_ascii (host);
  if (ascii == NULL || *ascii == '\0')
    return FALSE;
  for (const char *p = ascii; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

gboolean
confab_url_is_loopback (const char *url)
{
  g_autoptr(GUri) uri = NULL;

  if (url == NULL)
    return FALSE;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  return uri != NULL && confab_host_is_loopback (g_uri_get_host (uri));
}

gboolean
confab_secure_url_check (const char  *url,
                         GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  const char *host;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                           "No server address was given");
      return FALSE;
    }

  /* The parser's own message would quote the whole text, query and all. */
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    {
      g_set_error_literal (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                           "The server address is not a valid URL");
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                   "The server address (%s://…) has no host name", scheme);
      return FALSE;
    }

  if (!host_is_valid (host))
    {
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                   "The server address (%s://…) has an invalid host name", scheme);
      return FALSE;
    }

  if (g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    return TRUE;

  if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "ws") == 0)
    {
      if (confab_host_is_loopback (host))
        return TRUE;
      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
                   "Refusing unencrypted %s:// to %s: only https:// and wss:// are allowed "
                   "except to this computer", scheme, host);
      return FALSE;
    }

  g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL,
               "Unsupported address scheme “%s”: use https:// or wss://", scheme);
  return FALSE;
}
