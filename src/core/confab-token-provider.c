/* confab-token-provider.c: where Stream user tokens come from, cached and refreshed early
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "confab-error.h"
#include "confab-jwt-claims.h"
#include "confab-token-provider.h"

/* After a refresh ahead of expiry failed, the still-valid token is used this long
 * before the next attempt, so a token endpoint that is down is not asked on every
 * request. */
#define REFRESH_RETRY_SEC 15
/* A fresh token is not refreshed ahead of time within this many seconds, so a source
 * that hands out tokens shorter than the refresh margin is not asked on every call. */
#define MIN_REFRESH_INTERVAL_SEC 10

G_DEFINE_INTERFACE (ConfabTokenProvider, confab_token_provider, G_TYPE_OBJECT)

typedef struct
{
  GTask    *task;
  gboolean  force;
  gulong    cancelled_id;
} Waiter;

/* One fetch from the source, and the callers waiting for it. */
typedef struct
{
  ConfabTokenProvider *provider;
  GCancellable        *cancellable;
  GPtrArray           *waiters;      /* Waiter * */
  guint                generation;
} Fetch;

/* Per-provider state, kept on the instance (an interface has no instance struct). */
typedef struct
{
  char                 *token;
  ConfabJwtClaims      *claims;
  gint64                obtained_at;         /* wall seconds */
  gint64                refresh_not_before;  /* wall seconds */
  Fetch                *fetch;               /* the fetch new callers join, or NULL */
  GPtrArray            *fetches;             /* Fetch *: every fetch in flight */
  guint                 generation;          /* bumped by invalidate () */
  ConfabTokenClockFunc  clock;
  gpointer              clock_data;
} TokenCache;

static GQuark cache_quark;

static void
confab_token_provider_default_init (ConfabTokenProviderInterface *iface)
{
  cache_quark = g_quark_from_static_string ("confab-token-provider-cache");
}

static void
wipe_token (char **token)
{
  if (*token == NULL)
    return;
  memset (*token, 0, strlen (*token));
  g_clear_pointer (token, g_free);
}

static void
token_cache_free (gpointer data)
{
  TokenCache *cache = data;

  /* Every fetch holds a reference on the provider, so none is in flight here. */
  g_assert (cache->fetch == NULL && cache->fetches->len == 0);
  g_ptr_array_unref (cache->fetches);
  wipe_token (&cache->token);
  g_clear_pointer (&cache->claims, confab_jwt_claims_free);
  g_free (cache);
}

static TokenCache *
get_cache (ConfabTokenProvider *self)
{
  TokenCache *cache = g_object_get_qdata (G_OBJECT (self), cache_quark);

  if (cache == NULL)
    {
      cache = g_new0 (TokenCache, 1);
      cache->fetches = g_ptr_array_new ();
      g_object_set_qdata_full (G_OBJECT (self), cache_quark, cache, token_cache_free);
    }
  return cache;
}

static gint64
now_sec (TokenCache *cache)
{
  gint64 now = cache->clock != NULL ? cache->clock (cache->clock_data) : g_get_real_time ();

  return now / G_USEC_PER_SEC;
}

static gboolean
can_refresh (ConfabTokenProvider *self)
{
  ConfabTokenProviderInterface *iface = CONFAB_TOKEN_PROVIDER_GET_IFACE (self);

  return iface->can_refresh == NULL || iface->can_refresh (self);
}

static gboolean
cached_token_is_valid (TokenCache *cache,
                       gint64      now)
{
  return cache->token != NULL && (!cache->claims->has_exp || now < cache->claims->exp);
}

static gboolean
needs_refresh (ConfabTokenProvider *self,
               TokenCache          *cache,
               gint64               now)
{
  if (!can_refresh (self))
    return FALSE;
  if (now < confab_jwt_claims_get_refresh_time (cache->claims, cache->obtained_at))
    return FALSE;
  if (!cached_token_is_valid (cache, now))
    return TRUE;
  return now >= cache->refresh_not_before;
}

/* Waiters ------------------------------------------------------------------------- */

static void
waiter_free (Waiter *waiter)
{
  GCancellable *cancellable = g_task_get_cancellable (waiter->task);

  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, waiter->cancelled_id);
  g_object_unref (waiter->task);
  g_free (waiter);
}

static void
fetch_free (Fetch *fetch)
{
  g_assert (fetch->waiters->len == 0);
  g_ptr_array_unref (fetch->waiters);
  g_object_unref (fetch->cancellable);
  g_object_unref (fetch->provider);
  g_free (fetch);
}

/* In the task's main context, after the "cancelled" emission is over (disconnecting
 * from inside it would deadlock). */
static gboolean
waiter_cancelled_idle (gpointer user_data)
{
  GTask *task = user_data;
  ConfabTokenProvider *self = g_task_get_source_object (task);
  TokenCache *cache = get_cache (self);

  for (guint f = 0; f < cache->fetches->len; f++)
    {
      Fetch *fetch = g_ptr_array_index (cache->fetches, f);

      for (guint i = 0; i < fetch->waiters->len; i++)
        {
          Waiter *waiter = g_ptr_array_index (fetch->waiters, i);

          if (waiter->task != task)
            continue;

          g_ptr_array_remove_index (fetch->waiters, i);
          g_task_return_error_if_cancelled (waiter->task);
          waiter_free (waiter);

          /* Nobody wants this fetch any more: stop it; the next caller starts afresh. */
          if (fetch->waiters->len == 0)
            {
              if (cache->fetch == fetch)
                cache->fetch = NULL;
              g_cancellable_cancel (fetch->cancellable);
            }
          return G_SOURCE_REMOVE;
        }
    }

  /* Not found: the fetch answered first (and GTask turned that into a cancellation). */
  return G_SOURCE_REMOVE;
}

static void
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, waiter_cancelled_idle, g_object_ref (task), g_object_unref);
  g_source_set_static_name (source, "[confab] token request cancelled");
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

static void
add_waiter (Fetch    *fetch,
            GTask    *task,
            gboolean  force)
{
  Waiter *waiter = g_new0 (Waiter, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  waiter->task = g_object_ref (task);
  waiter->force = force;
  g_ptr_array_add (fetch->waiters, waiter);
  /* The handler's data is the task, which the waiter keeps alive until it disconnects. */
  if (cancellable != NULL)
    waiter->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_waiter_cancelled),
                                                  task, NULL);
}

/* Fetching ------------------------------------------------------------------------ */

static void
on_fetch_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Fetch *fetch = user_data;
  ConfabTokenProvider *self = fetch->provider;
  ConfabTokenProviderInterface *iface = CONFAB_TOKEN_PROVIDER_GET_IFACE (self);
  TokenCache *cache = get_cache (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(ConfabJwtClaims) claims = NULL;
  g_autofree char *token = NULL;
  gboolean current;
  gint64 now;

  token = iface->fetch_token_finish (self, result, &error);
  if (cache->fetch == fetch)
    cache->fetch = NULL;
  g_ptr_array_remove (cache->fetches, fetch);
  current = fetch->generation == cache->generation;
  now = now_sec (cache);

  if (token != NULL)
    {
      claims = confab_jwt_claims_parse (token, &error);
      if (claims == NULL)
        wipe_token (&token);
    }
  else if (error == NULL)
    g_set_error_literal (&error, CONFAB_ERROR, CONFAB_ERROR_AUTH, "No token was provided");

  if (token != NULL && current)
    {
      wipe_token (&cache->token);
      g_clear_pointer (&cache->claims, confab_jwt_claims_free);
      cache->token = g_strdup (token);
      cache->claims = confab_jwt_claims_copy (claims);
      cache->obtained_at = now;
      cache->refresh_not_before = now + MIN_REFRESH_INTERVAL_SEC;
      g_debug ("token fetched%s", claims->has_exp ? "" : " (no expiry)");
    }
  else if (token == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Our providers' messages never quote a token. */
      g_debug ("token fetch failed: %s", error->message);
      if (current && cached_token_is_valid (cache, now))
        cache->refresh_not_before = now + REFRESH_RETRY_SEC;
    }

  while (fetch->waiters->len > 0)
    {
      Waiter *waiter = g_ptr_array_steal_index (fetch->waiters, 0);

      if (token != NULL)
        g_task_return_pointer (waiter->task, g_strdup (token), g_free);
      else if (!waiter->force && current && cached_token_is_valid (cache, now))
        g_task_return_pointer (waiter->task, g_strdup (cache->token), g_free);
      else
        g_task_return_error (waiter->task, g_error_copy (error));
      waiter_free (waiter);
    }

  wipe_token (&token);
  fetch_free (fetch);
}

static void
start_fetch (ConfabTokenProvider *self,
             TokenCache          *cache,
             GTask               *task,
             gboolean             force)
{
  Fetch *fetch = g_new0 (Fetch, 1);

  fetch->provider = g_object_ref (self);
  fetch->cancellable = g_cancellable_new ();
  fetch->waiters = g_ptr_array_new ();
  fetch->generation = cache->generation;
  cache->fetch = fetch;
  g_ptr_array_add (cache->fetches, fetch);

  /* The waiter goes first, in case an implementation answers synchronously. */
  add_waiter (fetch, task, force);
  CONFAB_TOKEN_PROVIDER_GET_IFACE (self)->fetch_token_async (self, fetch->cancellable,
                                                            on_fetch_done, fetch);
}

/* Public API ---------------------------------------------------------------------- */

void
confab_token_provider_get_token_async (ConfabTokenProvider *self,
                                       gboolean             force_refresh,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  TokenCache *cache;
  gint64 now;

  g_return_if_fail (CONFAB_IS_TOKEN_PROVIDER (self));
  g_return_if_fail (CONFAB_TOKEN_PROVIDER_GET_IFACE (self)->fetch_token_async != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, confab_token_provider_get_token_async);
  if (g_task_return_error_if_cancelled (task))
    return;

  cache = get_cache (self);
  now = now_sec (cache);

  if (cache->token != NULL)
    {
      if (force_refresh && !can_refresh (self))
        {
          g_task_return_new_error (task, CONFAB_ERROR, CONFAB_ERROR_AUTH,
                                   "The token expired and cannot be refreshed");
          return;
        }
      if (!force_refresh && !needs_refresh (self, cache, now))
        {
          g_task_return_pointer (task, g_strdup (cache->token), g_free);
          return;
        }
    }

  if (cache->fetch != NULL)
    add_waiter (cache->fetch, task, force_refresh);
  else
    start_fetch (self, cache, task, force_refresh);
}

char *
confab_token_provider_get_token_finish (ConfabTokenProvider  *self,
                                        GAsyncResult         *result,
                                        GError              **error)
{
  g_return_val_if_fail (CONFAB_IS_TOKEN_PROVIDER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == confab_token_provider_get_token_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
confab_token_provider_invalidate (ConfabTokenProvider *self)
{
  TokenCache *cache;

  g_return_if_fail (CONFAB_IS_TOKEN_PROVIDER (self));

  cache = get_cache (self);
  wipe_token (&cache->token);
  g_clear_pointer (&cache->claims, confab_jwt_claims_free);
  cache->obtained_at = 0;
  cache->refresh_not_before = 0;
  cache->generation++;
  /* Its callers still get its answer; new callers start a new fetch. */
  cache->fetch = NULL;
}

void
confab_token_provider_set_clock (ConfabTokenProvider  *self,
                                 ConfabTokenClockFunc  clock,
                                 gpointer              user_data)
{
  TokenCache *cache;

  g_return_if_fail (CONFAB_IS_TOKEN_PROVIDER (self));

  cache = get_cache (self);
  cache->clock = clock;
  cache->clock_data = clock != NULL ? user_data : NULL;
}
