/* test-endpoint-set.c: ConfabEndpointSet: validation, order, the per-network memory
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "confab-endpoint-set.h"
#include "confab-error.h"

static char *
network_from (gpointer user_data)
{
  const char *const *name = user_data;

  return g_strdup (*name);
}

static ConfabEndpointSet *
new_set (const char *const *urls)
{
  g_autoptr(GError) error = NULL;
  ConfabEndpointSet *set = confab_endpoint_set_new (urls, &error);

  g_assert_no_error (error);
  g_assert_nonnull (set);
  return set;
}

static void
test_valid (void)
{
  const char *urls[] = { "https://chat.example.com/", "wss://relay.example.com:8443",
                         "http://127.0.0.1:8080", "ws://localhost:9", "https://chat.example.com", NULL };
  g_autoptr(ConfabEndpointSet) set = new_set (urls);
  g_autofree char *label = NULL;

  /* Normalised, the repeated primary kept once, the order kept. */
  g_assert_cmpuint (confab_endpoint_set_get_n_endpoints (set), ==, 4);
  g_assert_cmpstr (confab_endpoint_set_get_url (set, 0), ==, "https://chat.example.com");
  g_assert_cmpstr (confab_endpoint_set_get_url (set, 1), ==, "https://relay.example.com:8443");
  g_assert_cmpstr (confab_endpoint_set_get_url (set, 2), ==, "http://127.0.0.1:8080");
  g_assert_cmpstr (confab_endpoint_set_get_url (set, 3), ==, "http://localhost:9");
  g_assert_cmpint (confab_endpoint_set_find (set, "wss://relay.example.com:8443/"), ==, 1);
  g_assert_cmpint (confab_endpoint_set_find (set, "https://other.example.com"), ==, -1);
  g_assert_cmpint (confab_endpoint_set_find (set, NULL), ==, -1);
  label = confab_endpoint_set_dup_label (set, 0);
  g_assert_cmpstr (label, ==, "https://chat.example.com:443");
}

static void
test_invalid (void)
{
  const char *bad[] = { "ftp://chat.example.com", "http://chat.example.com", "ws://10.0.0.1:80",
                        "", "garbage", "https://", "not a url at all \x01", "https://bad host/" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *urls[] = { "https://chat.example.com", bad[i], NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(ConfabEndpointSet) set = confab_endpoint_set_new (urls, &error);

      g_test_message ("bad endpoint %u: %s", i, error != NULL ? error->message : "(accepted)");
      g_assert_null (set);
      g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
      /* It says which entry is wrong. */
      g_assert_nonnull (strstr (error->message, "Server address 2"));
    }

  /* No list, an empty list. */
  {
    const char *empty[] = { NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;

    g_assert_null (confab_endpoint_set_new (NULL, &error));
    g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
    g_assert_null (confab_endpoint_set_new (empty, &error2));
    g_assert_error (error2, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
  }

  /* The message never carries the path or the query (keys go there). */
  {
    const char *urls[] = { "http://chat.example.com/v1?api_key=SECRETKEY", NULL };
    g_autoptr(GError) error = NULL;

    g_assert_null (confab_endpoint_set_new (urls, &error));
    g_assert_error (error, CONFAB_ERROR, CONFAB_ERROR_INSECURE_URL);
    g_assert_null (strstr (error->message, "SECRETKEY"));
    g_assert_null (strstr (error->message, "/v1"));
  }
}

static char *
memory_file (char **out_dir)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("confab-endpoints-XXXXXX", &error);

  g_assert_no_error (error);
  *out_dir = dir;
  return g_build_filename (dir, CONFAB_ENDPOINT_SET_MEMORY_FILE, NULL);
}

static void
remove_dir (char *dir,
            char *path)
{
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_memory (void)
{
  const char *urls[] = { "https://a.example.com", "https://b.example.com", "https://c.example.com", NULL };
  const char *network = "wlan0 via 0101A8C0";
  g_autofree char *dir = NULL;
  g_autofree char *path = memory_file (&dir);
  g_autofree char *contents = NULL;
  guint order[3];

  {
    g_autoptr(ConfabEndpointSet) set = new_set (urls);

    confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    /* Nothing remembered: the primary first, then the list's order. */
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
    confab_endpoint_set_get_order (set, order);
    g_assert_cmpuint (order[0], ==, 0);
    g_assert_cmpuint (order[1], ==, 1);
    g_assert_cmpuint (order[2], ==, 2);

    confab_endpoint_set_remember (set, 2);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 2);
    confab_endpoint_set_get_order (set, order);
    g_assert_cmpuint (order[0], ==, 2);
    g_assert_cmpuint (order[1], ==, 0);
    g_assert_cmpuint (order[2], ==, 1);
  }

  /* On disk: the hash of the network, never the interface or the gateway. */
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "https://c.example.com"));
  g_assert_null (strstr (contents, "wlan0"));
  g_assert_null (strstr (contents, "0101A8C0"));

  /* Across a restart; per network. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (urls);
    const char *other = "eth0 via 0100000A";

    confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 2);
    g_assert_nonnull (confab_endpoint_set_get_network (set));
    g_assert_cmpuint (strlen (confab_endpoint_set_get_network (set)), ==, 16);

    /* Another network has its own memory (none yet). */
    confab_endpoint_set_set_network_func (set, network_from, &other, NULL);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
    confab_endpoint_set_remember (set, 1);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 1);
    /* Back on the first: still c. */
    confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 2);

    /* A network change forgets what worked on the network we were on. */
    confab_endpoint_set_network_changed (set);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
  }

  /* Forgotten on disk too; the other network's entry stays. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (urls);
    const char *other = "eth0 via 0100000A";

    confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
    confab_endpoint_set_set_network_func (set, network_from, &other, NULL);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 1);
  }

  /* A list without the remembered endpoint ignores the entry. */
  {
    const char *fewer[] = { "https://a.example.com", NULL };
    g_autoptr(ConfabEndpointSet) set = new_set (fewer);
    const char *other = "eth0 via 0100000A";

    confab_endpoint_set_set_network_func (set, network_from, &other, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
  }

  /* An unknown network remembers nothing. */
  {
    g_autoptr(ConfabEndpointSet) set = new_set (urls);
    const char *none = NULL;

    confab_endpoint_set_set_network_func (set, network_from, &none, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    g_assert_null (confab_endpoint_set_get_network (set));
    confab_endpoint_set_remember (set, 2);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);
  }

  remove_dir (dir, path);
}

static void
test_corrupt_memory (void)
{
  const char *urls[] = { "https://a.example.com", "https://b.example.com", NULL };
  const char *network = "wlan0 via 0101A8C0";
  const char *garbage[] = {
    "\x00\xff\xfe binary \x01\x02",
    "[endpoints\nno closing bracket",
    "[endpoints]\nnot-hex-key=https://b.example.com\n0123456789abcdef=https://evil.example.com\n"
    "0123=https://b.example.com\n",
    "",
  };
  g_autofree char *dir = NULL;
  g_autofree char *path = memory_file (&dir);

  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      g_autoptr(ConfabEndpointSet) set = new_set (urls);
      g_autoptr(ConfabEndpointSet) again = new_set (urls);
      g_autoptr(GKeyFile) file = g_key_file_new ();

      g_assert_true (g_file_set_contents (path, garbage[i], i == 0 ? 13 : -1, NULL));
      confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
      /* Ignored, not an error, not a crash. */
      confab_endpoint_set_set_memory_path (set, path);
      g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 0);

      /* Rebuilt on the next success. */
      confab_endpoint_set_remember (set, 1);
      g_assert_true (g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, NULL));
      confab_endpoint_set_set_network_func (again, network_from, &network, NULL);
      confab_endpoint_set_set_memory_path (again, path);
      g_assert_cmpuint (confab_endpoint_set_get_preferred (again), ==, 1);
    }

  /* A directory where the file should be: nothing remembered on disk, no crash. */
  remove_dir (dir, path);
  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
  {
    g_autoptr(ConfabEndpointSet) set = new_set (urls);

    confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
    confab_endpoint_set_set_memory_path (set, path);
    confab_endpoint_set_remember (set, 1);
    g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 1);
  }
  g_rmdir (path);
  g_rmdir (dir);
}

static void
test_bounded (void)
{
  const char *urls[] = { "https://a.example.com", "https://b.example.com", NULL };
  g_autofree char *dir = NULL;
  g_autofree char *path = memory_file (&dir);
  g_autoptr(ConfabEndpointSet) set = new_set (urls);
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_auto(GStrv) keys = NULL;
  gsize n_keys = 0;

  confab_endpoint_set_set_memory_path (set, path);
  for (guint i = 0; i < CONFAB_ENDPOINT_SET_MAX_NETWORKS + 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("network %u", i);
      const char *network = name;

      confab_endpoint_set_set_network_func (set, network_from, &network, NULL);
      confab_endpoint_set_remember (set, 1);
    }
  g_assert_true (g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, NULL));
  keys = g_key_file_get_keys (file, "endpoints", &n_keys, NULL);
  g_assert_cmpuint (n_keys, ==, CONFAB_ENDPOINT_SET_MAX_NETWORKS);
  /* The newest is kept. */
  g_assert_cmpuint (confab_endpoint_set_get_preferred (set), ==, 1);
  remove_dir (dir, path);
}

static void
test_default_network (void)
{
  const char *urls[] = { "https://a.example.com", NULL };
  g_autoptr(ConfabEndpointSet) set = new_set (urls);
  const char *network;

  /* From the routing table: a hash when there is a default route, NULL otherwise. */
  confab_endpoint_set_update_network (set);
  network = confab_endpoint_set_get_network (set);
  g_test_message ("this machine's network: %s", network != NULL ? network : "(no default route)");
  if (network != NULL)
    g_assert_cmpuint (strlen (network), ==, 16);
}

static void
test_reachable_offline (void)
{
  GNetworkMonitor *monitor = g_network_monitor_get_default ();
  const char *loopback[] = { "https://a.example.com", "http://127.0.0.1:9", NULL };
  const char *localhost[] = { "http://localhost:9", NULL };
  const char *names[] = { "https://a.example.com", NULL };
  g_autoptr(ConfabEndpointSet) with_loopback = new_set (loopback);
  g_autoptr(ConfabEndpointSet) with_localhost = new_set (localhost);
  g_autoptr(ConfabEndpointSet) only_names = new_set (names);

  /* The system's monitor (netlink here) answers yes for loopback, route or not. */
  g_test_message ("monitor: %s", G_OBJECT_TYPE_NAME (monitor));
  g_assert_true (confab_endpoint_set_reachable_offline (with_loopback, monitor));
  g_assert_true (confab_endpoint_set_reachable_offline (with_localhost, monitor));
  /* Names are not looked up. */
  g_assert_false (confab_endpoint_set_reachable_offline (only_names, monitor));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/endpoint-set/valid", test_valid);
  g_test_add_func ("/core/endpoint-set/invalid", test_invalid);
  g_test_add_func ("/core/endpoint-set/memory", test_memory);
  g_test_add_func ("/core/endpoint-set/corrupt-memory", test_corrupt_memory);
  g_test_add_func ("/core/endpoint-set/bounded", test_bounded);
  g_test_add_func ("/core/endpoint-set/default-network", test_default_network);
  g_test_add_func ("/core/endpoint-set/reachable-offline", test_reachable_offline);

  return g_test_run ();
}
