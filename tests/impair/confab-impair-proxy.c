/* confab-impair-proxy.c: the set of listeners and the command language that drives them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-impair-profiles.h"
#include "confab-impair-proxy.h"

#define MAX_LISTENERS 256

struct _ConfabImpairProxy
{
  GObject    parent_instance;

  GPtrArray *listeners;
  guint32    seed;
};

enum {
  SIGNAL_QUIT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabImpairProxy, confab_impair_proxy, G_TYPE_OBJECT)

static gboolean
valid_name (const char *name)
{
  if (*name == '\0' || strlen (name) > 64 || g_str_equal (name, "all"))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

ConfabImpairListener *
confab_impair_proxy_lookup (ConfabImpairProxy *self,
                            const char        *name)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (self), NULL);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      ConfabImpairListener *listener = g_ptr_array_index (self->listeners, i);

      if (g_strcmp0 (confab_impair_listener_get_name (listener), name) == 0)
        return listener;
    }
  return NULL;
}

GPtrArray *
confab_impair_proxy_get_listeners (ConfabImpairProxy *self)
{
  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (self), NULL);
  return self->listeners;
}

ConfabImpairListener *
confab_impair_proxy_add_listener (ConfabImpairProxy  *self,
                                  const char * const *words,
                                  GError            **error)
{
  g_autoptr(GInetSocketAddress) listen = NULL;
  g_autoptr(GInetSocketAddress) upstream = NULL;
  g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
  g_autoptr(GPtrArray) assignments = g_ptr_array_new ();
  g_autoptr(ConfabImpairListener) listener = NULL;
  const char *name;

  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (self), NULL);
  g_return_val_if_fail (words != NULL, NULL);

  name = words[0];
  if (name == NULL || !valid_name (name))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                   "invalid listener name “%s”: use 1–64 letters, digits, '-', '_' or '.' (not “all”)",
                   name != NULL ? name : "");
      return NULL;
    }
  if (confab_impair_proxy_lookup (self, name) != NULL)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_DUPLICATE,
                   "a listener named %s exists already", name);
      return NULL;
    }
  if (self->listeners->len >= MAX_LISTENERS)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                   "at most %d listeners", MAX_LISTENERS);
      return NULL;
    }
  for (guint i = 1; words[i] != NULL; i++)
    {
      const char *word = words[i];

      if (g_str_has_prefix (word, "listen="))
        {
          g_clear_object (&listen);
          /* Any local address: a namespace's interface as well as loopback. */
          listen = confab_impair_parse_address (word + strlen ("listen="), TRUE, error);
          if (listen == NULL)
            return NULL;
        }
      else if (g_str_has_prefix (word, "upstream="))
        {
          g_clear_object (&upstream);
          upstream = confab_impair_parse_address (word + strlen ("upstream="), FALSE, error);
          if (upstream == NULL)
            return NULL;
          if (g_inet_socket_address_get_port (upstream) == 0)
            {
              g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
                           "the upstream port must be 1–65535");
              return NULL;
            }
        }
      else
        g_ptr_array_add (assignments, (gpointer) word);
    }
  g_ptr_array_add (assignments, NULL);
  if (listen == NULL)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
                   "listener %s needs listen=HOST:PORT", name);
      return NULL;
    }
  if (!confab_impair_rules_apply_all (rules, (const char * const *) assignments->pdata, error))
    return NULL;
  if (upstream == NULL && !rules->connect_proxy)
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_ADDRESS,
                   "listener %s needs upstream=HOST:PORT (or proxy=connect)", name);
      return NULL;
    }

  listener = confab_impair_listener_new (name, listen, upstream, rules, self->seed + self->listeners->len);
  if (!confab_impair_listener_start (listener, error))
    return NULL;
  g_ptr_array_add (self->listeners, g_object_ref (listener));
  return listener;
}

/* Commands ---------------------------------------------------------------------------- */

static char *
to_line (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static char *
answer_error (const GError *error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ok");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, error->message);
  json_builder_end_object (builder);
  return to_line (builder);
}

static JsonBuilder *
answer_begin (void)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ok");
  json_builder_add_boolean_value (builder, TRUE);
  return builder;
}

static char *
answer_end (JsonBuilder *builder)
{
  char *line;

  json_builder_end_object (builder);
  line = to_line (builder);
  g_object_unref (builder);
  return line;
}

static char *
answer_listener (ConfabImpairListener *listener)
{
  JsonBuilder *builder = answer_begin ();

  json_builder_set_member_name (builder, "listener");
  confab_impair_listener_add_json (listener, builder);
  return answer_end (builder);
}

static void
add_listeners (ConfabImpairProxy *self,
               JsonBuilder       *builder)
{
  json_builder_set_member_name (builder, "listeners");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->listeners->len; i++)
    confab_impair_listener_add_json (g_ptr_array_index (self->listeners, i), builder);
  json_builder_end_array (builder);
}

JsonNode *
confab_impair_proxy_to_json (ConfabImpairProxy *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (self), NULL);

  json_builder_begin_object (builder);
  add_listeners (self, builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static ConfabImpairListener *
need_listener (ConfabImpairProxy *self,
               const char        *name,
               GError           **error)
{
  ConfabImpairListener *listener = name != NULL ? confab_impair_proxy_lookup (self, name) : NULL;

  if (listener == NULL)
    {
      GString *names = g_string_new (NULL);

      for (guint i = 0; i < self->listeners->len; i++)
        g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                                confab_impair_listener_get_name (g_ptr_array_index (self->listeners, i)));
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_LISTENER,
                   "no listener named “%s” (listeners: %s)", name != NULL ? name : "",
                   names->len > 0 ? names->str : "none");
      g_string_free (names, TRUE);
    }
  return listener;
}

/* The listeners a "cut"/"restore" names: one, or all of them for "all". */
static GPtrArray *
targets (ConfabImpairProxy *self,
         const char        *name,
         GError           **error)
{
  GPtrArray *list = g_ptr_array_new ();
  ConfabImpairListener *one;

  if (g_strcmp0 (name, "all") == 0)
    {
      for (guint i = 0; i < self->listeners->len; i++)
        g_ptr_array_add (list, g_ptr_array_index (self->listeners, i));
      return list;
    }
  one = need_listener (self, name, error);
  if (one == NULL)
    {
      g_ptr_array_unref (list);
      return NULL;
    }
  g_ptr_array_add (list, one);
  return list;
}

static char *
usage (GError    **error,
       const char *text)
{
  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND, "usage: %s", text);
  return NULL;
}

static char *
command_set (ConfabImpairProxy  *self,
             char              **words,
             GError            **error)
{
  ConfabImpairListener *listener;
  g_autoptr(ConfabImpairRules) rules = NULL;
  g_autoptr(GInetSocketAddress) upstream = NULL;
  g_autoptr(GPtrArray) assignments = g_ptr_array_new ();

  if (words[1] == NULL || words[2] == NULL)
    return usage (error, "set NAME KEY=VALUE…");
  listener = need_listener (self, words[1], error);
  if (listener == NULL)
    return NULL;
  for (guint i = 2; words[i] != NULL; i++)
    {
      if (g_str_has_prefix (words[i], "upstream="))
        {
          g_clear_object (&upstream);
          upstream = confab_impair_parse_address (words[i] + strlen ("upstream="), FALSE, error);
          if (upstream == NULL)
            return NULL;
        }
      else if (g_str_has_prefix (words[i], "listen="))
        {
          g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                       "a listener's address cannot change; add another listener");
          return NULL;
        }
      else
        g_ptr_array_add (assignments, words[i]);
    }
  g_ptr_array_add (assignments, NULL);
  rules = confab_impair_rules_copy (confab_impair_listener_get_rules (listener));
  if (!confab_impair_rules_apply_all (rules, (const char * const *) assignments->pdata, error))
    return NULL;
  if (upstream != NULL && !confab_impair_listener_set_upstream (listener, upstream, error))
    return NULL;
  if (!confab_impair_listener_set_rules (listener, rules, error))
    return NULL;
  return answer_listener (listener);
}

static char *
command_cut (ConfabImpairProxy  *self,
             char              **words,
             gboolean            restore,
             GError            **error)
{
  g_autoptr(GPtrArray) list = NULL;
  ConfabImpairCut cut = CONFAB_IMPAIR_CUT_SILENT;
  JsonBuilder *builder;

  if (words[1] == NULL || (restore && words[2] != NULL) || (!restore && words[2] != NULL && words[3] != NULL))
    return usage (error, restore ? "restore NAME|all" : "cut NAME|all [silent|reset|refuse]");
  if (!restore && words[2] != NULL && !confab_impair_cut_from_string (words[2], &cut))
    {
      g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_INVALID_VALUE,
                   "invalid cut “%s”: expected silent, reset or refuse", words[2]);
      return NULL;
    }
  list = targets (self, words[1], error);
  if (list == NULL)
    return NULL;
  for (guint i = 0; i < list->len; i++)
    {
      ConfabImpairListener *listener = g_ptr_array_index (list, i);
      gboolean ok = restore ? confab_impair_listener_restore (listener, error)
                            : confab_impair_listener_cut (listener, cut, error);

      if (!ok)
        return NULL;
    }
  builder = answer_begin ();
  json_builder_set_member_name (builder, "cut");
  json_builder_add_string_value (builder, restore ? "none" : confab_impair_cut_to_string (cut));
  json_builder_set_member_name (builder, "listeners");
  json_builder_add_int_value (builder, list->len);
  return answer_end (builder);
}

static char *
run (ConfabImpairProxy  *self,
     char              **words,
     GError            **error)
{
  const char *command = words[0];
  ConfabImpairListener *listener;
  JsonBuilder *builder;

  if (g_str_equal (command, "ping"))
    {
      builder = answer_begin ();
      return answer_end (builder);
    }
  if (g_str_equal (command, "list"))
    {
      builder = answer_begin ();
      add_listeners (self, builder);
      return answer_end (builder);
    }
  if (g_str_equal (command, "profiles"))
    {
      builder = answer_begin ();
      json_builder_set_member_name (builder, "profiles");
      json_builder_add_value (builder, confab_impair_profiles_json ());
      return answer_end (builder);
    }
  if (g_str_equal (command, "get"))
    {
      if (words[1] == NULL || words[2] != NULL)
        return usage (error, "get NAME");
      listener = need_listener (self, words[1], error);
      return listener != NULL ? answer_listener (listener) : NULL;
    }
  if (g_str_equal (command, "set"))
    return command_set (self, words, error);
  if (g_str_equal (command, "clear") || g_str_equal (command, "profile"))
    {
      g_autoptr(ConfabImpairRules) rules = confab_impair_rules_new ();
      gboolean clear = g_str_equal (command, "clear");

      if (words[1] == NULL || (clear ? words[2] != NULL : (words[2] == NULL || words[3] != NULL)))
        return usage (error, clear ? "clear NAME" : "profile NAME PROFILE");
      listener = need_listener (self, words[1], error);
      if (listener == NULL)
        return NULL;
      if (!clear)
        {
          g_autofree char *assignment = g_strconcat ("profile=", words[2], NULL);

          if (!confab_impair_rules_apply (rules, assignment, error))
            return NULL;
        }
      if (!confab_impair_listener_set_rules (listener, rules, error))
        return NULL;
      return answer_listener (listener);
    }
  if (g_str_equal (command, "cut"))
    return command_cut (self, words, FALSE, error);
  if (g_str_equal (command, "restore"))
    return command_cut (self, words, TRUE, error);
  if (g_str_equal (command, "add"))
    {
      if (words[1] == NULL)
        return usage (error, "add NAME listen=HOST:PORT [upstream=HOST:PORT] [KEY=VALUE…]");
      listener = confab_impair_proxy_add_listener (self, (const char * const *) words + 1, error);
      return listener != NULL ? answer_listener (listener) : NULL;
    }
  if (g_str_equal (command, "remove"))
    {
      if (words[1] == NULL || words[2] != NULL)
        return usage (error, "remove NAME");
      listener = need_listener (self, words[1], error);
      if (listener == NULL)
        return NULL;
      confab_impair_listener_stop (listener);
      g_ptr_array_remove (self->listeners, listener);
      builder = answer_begin ();
      return answer_end (builder);
    }
  if (g_str_equal (command, "quit"))
    {
      g_signal_emit (self, signals[SIGNAL_QUIT], 0);
      builder = answer_begin ();
      return answer_end (builder);
    }

  g_set_error (error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND,
               "unknown command “%s” (commands: ping, list, profiles, get, set, clear, profile, cut, "
               "restore, add, remove, quit)", command);
  return NULL;
}

char *
confab_impair_proxy_execute (ConfabImpairProxy *self,
                             const char        *line)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *answer;

  g_return_val_if_fail (CONFAB_IMPAIR_IS_PROXY (self), NULL);
  g_return_val_if_fail (line != NULL, NULL);

  if (!g_utf8_validate (line, -1, NULL))
    {
      g_set_error (&error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND, "the command is not UTF-8");
      return answer_error (error);
    }
  parts = g_strsplit_set (line, " \t\r\n", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] != '\0')
      g_ptr_array_add (words, parts[i]);
  g_ptr_array_add (words, NULL);
  if (words->len == 1)
    {
      g_set_error (&error, CONFAB_IMPAIR_ERROR, CONFAB_IMPAIR_ERROR_UNKNOWN_COMMAND, "empty command");
      return answer_error (error);
    }
  answer = run (self, (char **) words->pdata, &error);
  if (answer == NULL)
    return answer_error (error);
  return answer;
}

void
confab_impair_proxy_stop (ConfabImpairProxy *self)
{
  g_return_if_fail (CONFAB_IMPAIR_IS_PROXY (self));

  for (guint i = 0; i < self->listeners->len; i++)
    confab_impair_listener_stop (g_ptr_array_index (self->listeners, i));
}

ConfabImpairProxy *
confab_impair_proxy_new (guint32 seed)
{
  ConfabImpairProxy *self = g_object_new (CONFAB_IMPAIR_TYPE_PROXY, NULL);

  self->seed = seed;
  return self;
}

static void
confab_impair_proxy_dispose (GObject *object)
{
  ConfabImpairProxy *self = CONFAB_IMPAIR_PROXY (object);

  if (self->listeners != NULL)
    {
      confab_impair_proxy_stop (self);
      g_clear_pointer (&self->listeners, g_ptr_array_unref);
    }

  G_OBJECT_CLASS (confab_impair_proxy_parent_class)->dispose (object);
}

static void
confab_impair_proxy_class_init (ConfabImpairProxyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_impair_proxy_dispose;

  signals[SIGNAL_QUIT] = g_signal_new ("quit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_impair_proxy_init (ConfabImpairProxy *self)
{
  self->listeners = g_ptr_array_new_with_free_func (g_object_unref);
}
