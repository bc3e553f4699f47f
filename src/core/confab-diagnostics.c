/* confab-diagnostics.c: a bounded connection timeline and the anonymised report
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "confab-diagnostics.h"

#define MAX_MAX_ATTEMPTS      100000
#define MAX_KEY_CHARS         80
#define MAX_LINE_CHARS        300
#define MAX_QUALITY_CHARS     40
#define MAX_RATING_CHANGES    20
/* ::changed is emitted at most this often, and only after a change. */
#define CHANGED_INTERVAL_MS   250

typedef struct
{
  gint64  at;
  char   *quality;
  int     rtt_ms;
  double  loss;     /* NaN: unknown */
} QualitySample;

typedef struct
{
  gint64  at;
  char   *what;
} Event;

typedef struct
{
  char *key;
  char *value;
} Fact;

struct _ConfabDiagnostics
{
  GObject     parent_instance;

  char       *salt;

  GListStore *attempts;
  guint       max_attempts;
  guint       dropped_attempts;

  GQueue      samples;          /* QualitySample*, oldest first */
  guint       dropped_samples;
  GQueue      events;           /* Event*, oldest first */
  guint       dropped_events;

  GPtrArray  *breakers;         /* char* */
  GPtrArray  *facts;            /* Fact*, in the order first set */

  GSource    *changed_source;   /* pending ::changed, or NULL */

  char       *user_id;
  char       *user_name;
  char       *email;
  GStrv       secrets;
  GHashTable *known_ids;        /* set of char* */
};

G_DEFINE_FINAL_TYPE (ConfabDiagnostics, confab_diagnostics, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SALT,
  PROP_MAX_ATTEMPTS,
  PROP_DROPPED_ATTEMPTS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
quality_sample_free (gpointer data)
{
  QualitySample *sample = data;

  g_free (sample->quality);
  g_free (sample);
}

static void
event_free (gpointer data)
{
  Event *event = data;

  g_free (event->what);
  g_free (event);
}

static void
fact_free (gpointer data)
{
  Fact *fact = data;

  g_free (fact->key);
  g_free (fact->value);
  g_free (fact);
}

static void
confab_diagnostics_dispose (GObject *object)
{
  ConfabDiagnostics *self = (ConfabDiagnostics *) object;

  if (self->changed_source != NULL)
    g_source_destroy (self->changed_source);
  g_clear_pointer (&self->changed_source, g_source_unref);
  if (self->attempts != NULL)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->attempts));

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (G_LIST_MODEL (self->attempts), i);

          g_signal_handlers_disconnect_by_data (attempt, self);
        }
    }
  g_clear_object (&self->attempts);

  G_OBJECT_CLASS (confab_diagnostics_parent_class)->dispose (object);
}

static void
confab_diagnostics_finalize (GObject *object)
{
  ConfabDiagnostics *self = (ConfabDiagnostics *) object;

  g_clear_pointer (&self->salt, g_free);
  g_queue_clear_full (&self->samples, quality_sample_free);
  g_queue_clear_full (&self->events, event_free);
  g_clear_pointer (&self->breakers, g_ptr_array_unref);
  g_clear_pointer (&self->facts, g_ptr_array_unref);
  g_clear_pointer (&self->user_id, g_free);
  g_clear_pointer (&self->user_name, g_free);
  g_clear_pointer (&self->email, g_free);
  g_clear_pointer (&self->secrets, g_strfreev);
  g_clear_pointer (&self->known_ids, g_hash_table_unref);

  G_OBJECT_CLASS (confab_diagnostics_parent_class)->finalize (object);
}

static void
confab_diagnostics_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (object);

  switch (prop_id)
    {
    case PROP_SALT:
      g_value_set_string (value, self->salt);
      break;
    case PROP_MAX_ATTEMPTS:
      g_value_set_uint (value, self->max_attempts);
      break;
    case PROP_DROPPED_ATTEMPTS:
      g_value_set_uint (value, self->dropped_attempts);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_diagnostics_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (object);

  switch (prop_id)
    {
    case PROP_SALT:
      confab_diagnostics_set_salt (self, g_value_get_string (value));
      break;
    case PROP_MAX_ATTEMPTS:
      confab_diagnostics_set_max_attempts (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_diagnostics_class_init (ConfabDiagnosticsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_diagnostics_dispose;
  object_class->finalize = confab_diagnostics_finalize;
  object_class->get_property = confab_diagnostics_get_property;
  object_class->set_property = confab_diagnostics_set_property;

  /**
   * ConfabDiagnostics:salt:
   *
   * The per-install key for hashing ids. Never shown in the report.
   */
  properties[PROP_SALT] =
    g_param_spec_string ("salt", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabDiagnostics:max-attempts:
   *
   * How many attempts the timeline keeps.
   */
  properties[PROP_MAX_ATTEMPTS] =
    g_param_spec_uint ("max-attempts", NULL, NULL,
                       1, MAX_MAX_ATTEMPTS, CONFAB_DIAGNOSTICS_DEFAULT_MAX_ATTEMPTS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * ConfabDiagnostics:dropped-attempts:
   *
   * How many attempts were dropped to keep the bound.
   */
  properties[PROP_DROPPED_ATTEMPTS] =
    g_param_spec_uint ("dropped-attempts", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ConfabDiagnostics::changed:
   *
   * The attempts (one added, dropped or progressing), the circuit breakers or the
   * quality history changed. Coalesced: at most once per 250 ms, a little after the
   * change, and never while nothing changes (no timer then).
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static gboolean
changed_cb (gpointer user_data)
{
  ConfabDiagnostics *self = user_data;

  g_clear_pointer (&self->changed_source, g_source_unref);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* One ::changed for every change within CHANGED_INTERVAL_MS; nothing scheduled when
 * nobody listens. */
static void
queue_changed (ConfabDiagnostics *self)
{
  g_autoptr(GMainContext) context = NULL;

  if (self->changed_source != NULL ||
      !g_signal_has_handler_pending (self, signals[SIGNAL_CHANGED], 0, TRUE))
    return;

  context = g_main_context_ref_thread_default ();
  self->changed_source = g_timeout_source_new (CHANGED_INTERVAL_MS);
  g_source_set_callback (self->changed_source, changed_cb, self, NULL);
  g_source_set_static_name (self->changed_source, "[confab] diagnostics changed");
  g_source_attach (self->changed_source, context);
}

static void
on_attempt_notify (ConfabAttempt     *attempt,
                   GParamSpec        *pspec,
                   ConfabDiagnostics *self)
{
  queue_changed (self);
}

static void
confab_diagnostics_init (ConfabDiagnostics *self)
{
  self->attempts = g_list_store_new (CONFAB_TYPE_ATTEMPT);
  self->max_attempts = CONFAB_DIAGNOSTICS_DEFAULT_MAX_ATTEMPTS;
  g_queue_init (&self->samples);
  g_queue_init (&self->events);
  self->breakers = g_ptr_array_new_with_free_func (g_free);
  self->facts = g_ptr_array_new_with_free_func (fact_free);
  self->known_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

ConfabDiagnostics *
confab_diagnostics_new (const char *salt)
{
  return g_object_new (CONFAB_TYPE_DIAGNOSTICS, "salt", salt, NULL);
}

const char *
confab_diagnostics_get_salt (ConfabDiagnostics *self)
{
  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), NULL);

  return self->salt;
}

void
confab_diagnostics_set_salt (ConfabDiagnostics *self,
                             const char        *salt)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));

  if (salt != NULL && *salt != '\0' && g_strcmp0 (salt, self->salt) == 0)
    return;

  g_free (self->salt);
  self->salt = salt != NULL && *salt != '\0' ? g_strdup (salt) : confab_diagnostics_new_salt ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SALT]);
}

guint
confab_diagnostics_get_max_attempts (ConfabDiagnostics *self)
{
  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), 0);

  return self->max_attempts;
}

static void
trim_attempts (ConfabDiagnostics *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->attempts));
  guint excess;

  if (n <= self->max_attempts)
    return;

  excess = n - self->max_attempts;
  for (guint i = 0; i < excess; i++)
    {
      g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (G_LIST_MODEL (self->attempts), i);

      g_signal_handlers_disconnect_by_func (attempt, on_attempt_notify, self);
    }
  g_list_store_splice (self->attempts, 0, excess, NULL, 0);
  queue_changed (self);
  self->dropped_attempts += excess;
  g_debug ("Diagnostics: dropped %u old attempts (%u so far)", excess, self->dropped_attempts);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DROPPED_ATTEMPTS]);
}

void
confab_diagnostics_set_max_attempts (ConfabDiagnostics *self,
                                     guint              max_attempts)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));
  g_return_if_fail (max_attempts >= 1 && max_attempts <= MAX_MAX_ATTEMPTS);

  if (self->max_attempts == max_attempts)
    return;

  self->max_attempts = max_attempts;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_ATTEMPTS]);
  trim_attempts (self);
}

void
confab_diagnostics_add_attempt (ConfabDiagnostics *self,
                                ConfabAttempt     *attempt)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));
  g_return_if_fail (CONFAB_IS_ATTEMPT (attempt));

  if (g_list_store_find (self->attempts, attempt, NULL))
    return;

  g_list_store_append (self->attempts, attempt);
  g_signal_connect (attempt, "notify", G_CALLBACK (on_attempt_notify), self);
  trim_attempts (self);
  queue_changed (self);
}

GListModel *
confab_diagnostics_get_attempts (ConfabDiagnostics *self)
{
  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), NULL);

  return G_LIST_MODEL (self->attempts);
}

guint
confab_diagnostics_get_dropped_attempts (ConfabDiagnostics *self)
{
  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), 0);

  return self->dropped_attempts;
}

void
confab_diagnostics_add_quality_sample (ConfabDiagnostics *self,
                                       gint64             at_usec,
                                       const char        *quality,
                                       int                rtt_ms,
                                       double             loss)
{
  QualitySample *sample;

  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));

  sample = g_new0 (QualitySample, 1);
  sample->at = at_usec;
  sample->quality = confab_redact_line (quality != NULL && *quality != '\0' ? quality : "unknown",
                                        NULL, MAX_QUALITY_CHARS);
  sample->rtt_ms = rtt_ms >= 0 ? rtt_ms : -1;
  sample->loss = isnan (loss) || loss < 0 ? NAN : MIN (loss, 1.0);
  g_queue_push_tail (&self->samples, sample);

  while (self->samples.length > CONFAB_DIAGNOSTICS_MAX_QUALITY_SAMPLES)
    {
      quality_sample_free (g_queue_pop_head (&self->samples));
      self->dropped_samples++;
    }
  queue_changed (self);
}

guint
confab_diagnostics_get_n_quality_samples (ConfabDiagnostics *self)
{
  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), 0);

  return self->samples.length;
}

gboolean
confab_diagnostics_get_quality_sample (ConfabDiagnostics  *self,
                                       guint               index,
                                       gint64             *at_usec,
                                       const char        **rating,
                                       int                *rtt_ms,
                                       double             *loss)
{
  QualitySample *sample;

  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), FALSE);

  sample = g_queue_peek_nth (&self->samples, index);
  if (sample == NULL)
    return FALSE;

  if (at_usec != NULL)
    *at_usec = sample->at;
  if (rating != NULL)
    *rating = sample->quality;
  if (rtt_ms != NULL)
    *rtt_ms = sample->rtt_ms;
  if (loss != NULL)
    *loss = sample->loss;
  return TRUE;
}

void
confab_diagnostics_add_event (ConfabDiagnostics *self,
                              gint64             at_usec,
                              const char        *what)
{
  Event *event;

  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));

  if (what == NULL)
    return;

  event = g_new0 (Event, 1);
  event->at = at_usec;
  event->what = confab_redact_line (what, NULL, MAX_LINE_CHARS);
  g_queue_push_tail (&self->events, event);

  while (self->events.length > CONFAB_DIAGNOSTICS_MAX_EVENTS)
    {
      event_free (g_queue_pop_head (&self->events));
      self->dropped_events++;
    }
}

void
confab_diagnostics_note (ConfabDiagnostics *self,
                         gint64             at_usec,
                         const char        *who,
                         const char        *format,
                         ...)
{
  g_autofree char *text = NULL;
  va_list args;

  g_return_if_fail (self == NULL || CONFAB_IS_DIAGNOSTICS (self));
  g_return_if_fail (who != NULL && format != NULL);

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  g_debug ("%s: %s", who, text);
  if (self != NULL)
    confab_diagnostics_add_event (self, at_usec, text);
}

void
confab_diagnostics_set_breakers (ConfabDiagnostics *self,
                                 GPtrArray         *lines)
{
  g_autoptr(GPtrArray) clean = g_ptr_array_new_with_free_func (g_free);
  gboolean same;

  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));

  for (guint i = 0; lines != NULL && i < lines->len; i++)
    {
      const char *line = g_ptr_array_index (lines, i);

      if (line != NULL)
        g_ptr_array_add (clean, confab_redact_line (line, NULL, MAX_LINE_CHARS));
    }

  same = clean->len == self->breakers->len;
  for (guint i = 0; same && i < clean->len; i++)
    same = strcmp (g_ptr_array_index (clean, i), g_ptr_array_index (self->breakers, i)) == 0;
  if (same)
    return;

  g_ptr_array_unref (self->breakers);
  self->breakers = g_steal_pointer (&clean);
  queue_changed (self);
}

GStrv
confab_diagnostics_dup_breakers (ConfabDiagnostics *self)
{
  GStrvBuilder *builder;
  GStrv lines;

  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->breakers->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->breakers, i));
  lines = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return lines;
}

void
confab_diagnostics_set_fact (ConfabDiagnostics *self,
                             const char        *key,
                             const char        *value)
{
  g_autofree char *clean_key = NULL;

  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));
  g_return_if_fail (key != NULL);

  clean_key = confab_redact_line (key, NULL, MAX_KEY_CHARS);
  for (guint i = 0; i < self->facts->len; i++)
    {
      Fact *fact = g_ptr_array_index (self->facts, i);

      if (strcmp (fact->key, clean_key) != 0)
        continue;
      if (value == NULL)
        {
          g_ptr_array_remove_index (self->facts, i);
        }
      else
        {
          g_free (fact->value);
          fact->value = confab_redact_line (value, NULL, MAX_LINE_CHARS);
        }
      return;
    }

  if (value != NULL)
    {
      Fact *fact = g_new0 (Fact, 1);

      fact->key = g_steal_pointer (&clean_key);
      fact->value = confab_redact_line (value, NULL, MAX_LINE_CHARS);
      g_ptr_array_add (self->facts, fact);
    }
}

static char *
dup_nonempty (const char *s)
{
  return s != NULL && *s != '\0' ? g_strdup (s) : NULL;
}

void
confab_diagnostics_set_identity (ConfabDiagnostics *self,
                                 const char        *user_id,
                                 const char        *user_name,
                                 const char        *email,
                                 const char *const *secrets)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));

  g_free (self->user_id);
  self->user_id = dup_nonempty (user_id);
  g_free (self->user_name);
  self->user_name = dup_nonempty (user_name);
  g_free (self->email);
  self->email = dup_nonempty (email);
  g_strfreev (self->secrets);
  self->secrets = g_strdupv ((char **) secrets);
}

void
confab_diagnostics_add_known_id (ConfabDiagnostics *self,
                                 const char        *id)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));
  g_return_if_fail (id != NULL);

  if (*id != '\0')
    g_hash_table_add (self->known_ids, g_strdup (id));
}

/* The report */

static void
append_ms (GString *out,
           gint64   usec)
{
  gint64 ms = (usec + 500) / 1000;
  char digits[32];
  gsize n;

  if (usec > 0 && ms == 0)
    {
      g_string_append (out, "<1 ms");
      return;
    }

  n = g_snprintf (digits, sizeof digits, "%" G_GINT64_FORMAT, ms);
  for (gsize i = 0; i < n; i++)
    {
      if (i > 0 && (n - i) % 3 == 0)
        g_string_append_c (out, ' ');
      g_string_append_c (out, digits[i]);
    }
  g_string_append (out, " ms");
}

static GDateTime *
local_time_from_usec (gint64  usec,
                      int    *millis)
{
  gint64 seconds = usec / G_USEC_PER_SEC;
  gint64 rest = usec % G_USEC_PER_SEC;

  if (rest < 0)
    {
      seconds--;
      rest += G_USEC_PER_SEC;
    }
  *millis = (int) (rest / 1000);
  return g_date_time_new_from_unix_local (seconds);
}

static void
append_local_time (GString *out,
                   gint64   usec)
{
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *hms = NULL;
  int millis = 0;

  when = local_time_from_usec (usec, &millis);
  if (when == NULL)
    {
      g_string_append (out, "??:??:??.???");
      return;
    }
  hms = g_date_time_format (when, "%H:%M:%S");
  g_string_append_printf (out, "%s.%03d", hms, millis);
}

/* Prints "-- 2024-05-02 --" before the first line of each local day. */
static void
append_day_header (GString  *out,
                   gint64    usec,
                   char    **last_day)
{
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *day = NULL;
  int millis = 0;

  when = local_time_from_usec (usec, &millis);
  day = when != NULL ? g_date_time_format (when, "%Y-%m-%d") : g_strdup ("unknown day");
  if (g_strcmp0 (day, *last_day) == 0)
    return;

  g_string_append_printf (out, "-- %s --\n", day);
  g_free (*last_day);
  *last_day = g_steal_pointer (&day);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

/* @values sorted ascending, non-empty. */
static gint64
median_of_sorted (GArray *values)
{
  guint n = values->len;

  if (n % 2 == 1)
    return g_array_index (values, gint64, n / 2);
  return (g_array_index (values, gint64, n / 2 - 1) + g_array_index (values, gint64, n / 2)) / 2;
}

typedef struct
{
  char  *label;
  guint  count;
  guint  order;
} Tally;

static void
tally_free (gpointer data)
{
  Tally *tally = data;

  g_free (tally->label);
  g_free (tally);
}

static void
tally_add (GHashTable *tallies,
           const char *key,
           const char *label)
{
  Tally *tally = g_hash_table_lookup (tallies, key);

  if (tally == NULL)
    {
      tally = g_new0 (Tally, 1);
      tally->label = g_strdup (label);
      tally->order = g_hash_table_size (tallies);
      g_hash_table_insert (tallies, g_strdup (key), tally);
    }
  tally->count++;
}

static int
compare_tallies (gconstpointer a,
                 gconstpointer b)
{
  const Tally *ta = *(const Tally *const *) a;
  const Tally *tb = *(const Tally *const *) b;

  if (ta->count != tb->count)
    return ta->count > tb->count ? -1 : 1;
  return ta->order < tb->order ? -1 : ta->order > tb->order ? 1 : 0;
}

/* "a 3 · b 1" (or with @times "a ×3; b ×1"), most frequent first. */
static void
append_tallies (GString    *out,
                GHashTable *tallies,
                const char *separator,
                gboolean    times)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer tally_ptr;

  g_hash_table_iter_init (&iter, tallies);
  while (g_hash_table_iter_next (&iter, NULL, &tally_ptr))
    g_ptr_array_add (sorted, tally_ptr);
  g_ptr_array_sort (sorted, compare_tallies);
  for (guint i = 0; i < sorted->len; i++)
    {
      const Tally *tally = g_ptr_array_index (sorted, i);

      g_string_append_printf (out, times ? "%s%s ×%u" : "%s%s %u",
                              i > 0 ? separator : "", tally->label, tally->count);
    }
}

static void
append_header (ConfabDiagnostics *self,
               GString           *out)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  g_autofree char *offset = g_date_time_format (now, "%:z");

  g_string_append (out, "Confab diagnostics report\n");
  g_string_append_printf (out, "Generated: %s (UTC%s; all times below are local)\n", stamp, offset);
  g_string_append (out,
                   "Privacy: user ids are hashed per install (\"u_\" + the first 12 hex digits of "
                   "HMAC-SHA256 keyed with a random salt that never leaves this computer, so the "
                   "same user reads the same in every report from this install); names and email "
                   "addresses are removed; tokens, keys and anything shaped like a JWT are redacted.\n");
  if (self->user_id != NULL)
    {
      g_autofree char *hash = confab_hash_id (self->user_id, self->salt);

      g_string_append_printf (out, "User: %s\n", hash);
    }
  else
    {
      g_string_append (out, "User: not signed in\n");
    }
}

static void
append_facts (ConfabDiagnostics *self,
              GString           *out)
{
  g_string_append (out, "\n== Environment ==\n");
  if (self->facts->len == 0)
    g_string_append (out, "(none recorded)\n");
  for (guint i = 0; i < self->facts->len; i++)
    {
      const Fact *fact = g_ptr_array_index (self->facts, i);

      g_string_append_printf (out, "%s: %s\n", fact->key, fact->value);
    }
}

static void
append_breakers (ConfabDiagnostics *self,
                 GString           *out)
{
  g_string_append (out, "\n== Circuit breakers (now) ==\n");
  if (self->breakers->len == 0)
    g_string_append (out, "(none reported)\n");
  for (guint i = 0; i < self->breakers->len; i++)
    g_string_append_printf (out, "%s\n", (const char *) g_ptr_array_index (self->breakers, i));
}

static void
append_attempt_summary (ConfabDiagnostics *self,
                        GString           *out)
{
  GListModel *model = G_LIST_MODEL (self->attempts);
  guint n = g_list_model_get_n_items (model);
  guint outcomes[CONFAB_ATTEMPT_OUTCOME_CANCELLED + 1] = { 0, };
  g_autoptr(GHashTable) transports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tally_free);
  g_autoptr(GHashTable) failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tally_free);
  g_autoptr(GHashTable) fallbacks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tally_free);
  g_autoptr(GArray) usable = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (model, i);
      ConfabAttemptOutcome outcome = confab_attempt_get_outcome (attempt);
      const char *transport = confab_attempt_get_transport (attempt);
      const char *reason = confab_attempt_get_reason (attempt);

      outcomes[outcome]++;
      transport = transport != NULL ? transport : "unknown";
      tally_add (transports, transport, transport);

      if (outcome == CONFAB_ATTEMPT_OUTCOME_SUCCEEDED)
        {
          gint64 first_frame = confab_attempt_get_stage_time (attempt, CONFAB_ATTEMPT_STAGE_FIRST_FRAME);
          gint64 to_usable = first_frame >= 0
                             ? MAX (0, first_frame - confab_attempt_get_started_at (attempt))
                             : confab_attempt_get_duration (attempt);

          g_array_append_val (usable, to_usable);
        }
      else if (outcome == CONFAB_ATTEMPT_OUTCOME_FAILED)
        {
          const char *domain = g_quark_to_string (confab_attempt_get_error_domain (attempt));
          g_autofree char *key = g_strdup_printf ("%s %d", domain != NULL ? domain : "?",
                                                  confab_attempt_get_error_code (attempt));
          g_autofree char *label = confab_attempt_describe_error (attempt);

          tally_add (failures, key, label);
        }

      if (reason != NULL && *reason != '\0')
        tally_add (fallbacks, reason, reason);
    }

  g_string_append_printf (out, "Outcomes: %u ok, %u failed, %u cancelled, %u in progress\n",
                          outcomes[CONFAB_ATTEMPT_OUTCOME_SUCCEEDED],
                          outcomes[CONFAB_ATTEMPT_OUTCOME_FAILED],
                          outcomes[CONFAB_ATTEMPT_OUTCOME_CANCELLED],
                          outcomes[CONFAB_ATTEMPT_OUTCOME_PENDING]);
  g_string_append (out, "Transports: ");
  append_tallies (out, transports, " · ", FALSE);
  g_string_append_c (out, '\n');

  if (usable->len > 0)
    {
      g_array_sort (usable, compare_gint64);
      g_string_append (out, "Time to usable (successful attempts): min ");
      append_ms (out, g_array_index (usable, gint64, 0));
      g_string_append (out, " · median ");
      append_ms (out, median_of_sorted (usable));
      g_string_append (out, " · max ");
      append_ms (out, g_array_index (usable, gint64, usable->len - 1));
      g_string_append_c (out, '\n');
    }
  if (g_hash_table_size (failures) > 0)
    {
      g_string_append (out, "Failures: ");
      append_tallies (out, failures, "; ", TRUE);
      g_string_append_c (out, '\n');
    }
  if (g_hash_table_size (fallbacks) > 0)
    {
      g_string_append (out, "Next steps chosen: ");
      append_tallies (out, fallbacks, "; ", TRUE);
      g_string_append_c (out, '\n');
    }
}

static void
append_attempts (ConfabDiagnostics *self,
                 GString           *out)
{
  GListModel *model = G_LIST_MODEL (self->attempts);
  guint n = g_list_model_get_n_items (model);
  g_autofree char *last_day = NULL;

  g_string_append (out, "\n== Connection attempts (newest last) ==\n");
  if (n == 0 && self->dropped_attempts == 0)
    {
      g_string_append (out, "(none yet)\n");
      return;
    }

  g_string_append_printf (out, "Kept: %u (at most %u)", n, self->max_attempts);
  if (self->dropped_attempts > 0)
    g_string_append_printf (out, "; %u older attempts dropped", self->dropped_attempts);
  g_string_append_c (out, '\n');
  append_attempt_summary (self, out);
  g_string_append (out, "Each line: start, transport, endpoint, time spent in each stage "
                        "(dns, tcp, tls, upgrade = request to 101, first frame = until the "
                        "health.check with a connection id, catch-up), outcome, and why the "
                        "next step was chosen.\n");

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ConfabAttempt) attempt = g_list_model_get_item (model, i);
      g_autofree char *line = confab_attempt_describe (attempt);

      append_day_header (out, confab_attempt_get_started_at (attempt), &last_day);
      g_string_append_printf (out, "%s\n", line);
    }
}

static void
append_loss (GString *out,
             double   loss)
{
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  /* The decimal separator is C's, whatever the locale. */
  g_string_append_printf (out, "%s %%", g_ascii_formatd (number, sizeof number, "%.1f", loss * 100.0));
}

static void
append_sample_values (GString             *out,
                      const QualitySample *sample)
{
  if (sample->rtt_ms >= 0)
    {
      g_string_append (out, ", RTT ");
      append_ms (out, (gint64) sample->rtt_ms * 1000);
    }
  if (!isnan (sample->loss))
    {
      g_string_append (out, ", loss ");
      append_loss (out, sample->loss);
    }
}

static void
append_quality (ConfabDiagnostics *self,
                GString           *out)
{
  g_autoptr(GArray) rtts = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GHashTable) ratings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tally_free);
  g_autoptr(GPtrArray) changes = g_ptr_array_new ();
  const QualitySample *first;
  const QualitySample *latest;
  const QualitySample *previous = NULL;
  double loss_sum = 0;
  double loss_max = 0;
  guint loss_count = 0;

  g_string_append (out, "\n== Connection quality ==\n");
  if (self->samples.length == 0)
    {
      g_string_append (out, "(no samples)\n");
      return;
    }

  for (GList *l = self->samples.head; l != NULL; l = l->next)
    {
      const QualitySample *sample = l->data;

      if (sample->rtt_ms >= 0)
        {
          gint64 rtt = sample->rtt_ms;

          g_array_append_val (rtts, rtt);
        }
      if (!isnan (sample->loss))
        {
          loss_sum += sample->loss;
          loss_max = MAX (loss_max, sample->loss);
          loss_count++;
        }
      tally_add (ratings, sample->quality, sample->quality);
      if (previous != NULL && strcmp (previous->quality, sample->quality) != 0)
        g_ptr_array_add (changes, (gpointer) sample);
      previous = sample;
    }

  first = self->samples.head->data;
  latest = self->samples.tail->data;
  g_string_append_printf (out, "Samples: %u, ", self->samples.length);
  append_local_time (out, first->at);
  g_string_append (out, " to ");
  append_local_time (out, latest->at);
  if (self->dropped_samples > 0)
    g_string_append_printf (out, "; %u older samples dropped", self->dropped_samples);
  g_string_append_c (out, '\n');

  if (rtts->len > 0)
    {
      g_array_sort (rtts, compare_gint64);
      g_string_append (out, "RTT: min ");
      append_ms (out, g_array_index (rtts, gint64, 0) * 1000);
      g_string_append (out, " · median ");
      append_ms (out, median_of_sorted (rtts) * 1000);
      g_string_append (out, " · max ");
      append_ms (out, g_array_index (rtts, gint64, rtts->len - 1) * 1000);
      g_string_append_printf (out, " (%u samples)\n", rtts->len);
    }
  else
    {
      g_string_append (out, "RTT: not measured\n");
    }
  if (loss_count > 0)
    {
      g_string_append (out, "Loss: mean ");
      append_loss (out, loss_sum / loss_count);
      g_string_append (out, " · max ");
      append_loss (out, loss_max);
      g_string_append_printf (out, " (%u samples)\n", loss_count);
    }
  g_string_append (out, "Ratings: ");
  append_tallies (out, ratings, " · ", FALSE);
  g_string_append_c (out, '\n');

  g_string_append (out, "Latest: ");
  append_local_time (out, latest->at);
  g_string_append_printf (out, " %s", latest->quality);
  append_sample_values (out, latest);
  g_string_append_c (out, '\n');

  if (changes->len > 0)
    {
      guint start = changes->len > MAX_RATING_CHANGES ? changes->len - MAX_RATING_CHANGES : 0;

      g_string_append_printf (out, "Rating changes (last %u of %u):\n", changes->len - start, changes->len);
      for (guint i = start; i < changes->len; i++)
        {
          const QualitySample *sample = g_ptr_array_index (changes, i);

          g_string_append (out, "  ");
          append_local_time (out, sample->at);
          g_string_append_printf (out, " → %s", sample->quality);
          append_sample_values (out, sample);
          g_string_append_c (out, '\n');
        }
    }
}

static void
append_events (ConfabDiagnostics *self,
               GString           *out)
{
  g_autofree char *last_day = NULL;

  g_string_append (out, "\n== Recent events (newest last) ==\n");
  if (self->dropped_events > 0)
    g_string_append_printf (out, "(%u older events dropped)\n", self->dropped_events);
  if (self->events.length == 0)
    g_string_append (out, "(none)\n");

  for (GList *l = self->events.head; l != NULL; l = l->next)
    {
      const Event *event = l->data;

      append_day_header (out, event->at, &last_day);
      append_local_time (out, event->at);
      g_string_append_printf (out, " %s\n", event->what);
    }
}

/* What the last pass replaces: ids by their hashes, the name and email by placeholders. */
static GHashTable *
build_identity_terms (ConfabDiagnostics *self)
{
  GHashTable *terms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer id;

  if (self->user_name != NULL)
    {
      g_auto(GStrv) words = g_strsplit_set (self->user_name, " \t\n", -1);

      g_hash_table_insert (terms, g_strdup (self->user_name), g_strdup (CONFAB_REDACTED_NAME));
      for (guint i = 0; words[i] != NULL; i++)
        {
          /* An initial alone ("J.") would blank out every lone letter. */
          if (g_utf8_strlen (words[i], -1) >= 2)
            g_hash_table_insert (terms, g_strdup (words[i]), g_strdup (CONFAB_REDACTED_NAME));
        }
    }

  if (self->email != NULL)
    {
      const char *at = strchr (self->email, '@');

      g_hash_table_insert (terms, g_strdup (self->email), g_strdup (CONFAB_REDACTED_EMAIL));
      if (at != NULL && at - self->email >= 2)
        g_hash_table_insert (terms, g_strndup (self->email, at - self->email), g_strdup (CONFAB_REDACTED_EMAIL));
    }

  /* Ids last: where a name word is also an id, the hash (more useful) wins. */
  g_hash_table_iter_init (&iter, self->known_ids);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    g_hash_table_insert (terms, g_strdup (id), confab_hash_id (id, self->salt));
  if (self->user_id != NULL)
    g_hash_table_insert (terms, g_strdup (self->user_id), confab_hash_id (self->user_id, self->salt));

  return terms;
}

char *
confab_diagnostics_report (ConfabDiagnostics *self)
{
  g_autoptr(GString) raw = NULL;
  g_autoptr(GHashTable) terms = NULL;
  g_autofree char *redacted = NULL;

  g_return_val_if_fail (CONFAB_IS_DIAGNOSTICS (self), NULL);

  raw = g_string_new (NULL);
  append_header (self, raw);
  append_facts (self, raw);
  append_breakers (self, raw);
  append_attempts (self, raw);
  append_quality (self, raw);
  append_events (self, raw);
  g_string_append (raw, "\n== End of report ==\n");

  /* The last pass, over everything above: nothing added to the report escapes it. */
  redacted = confab_redact_text (raw->str, (const char *const *) self->secrets);
  terms = build_identity_terms (self);
  return confab_redact_terms (redacted, terms);
}
