/* confab-cli-send.c: confab-cli send: the messages into the durable outbox, then out
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "confab-cli-private.h"
#include "confab-error.h"

/* Sending ------------------------------------------------------------------------------- */

void
cli_send_check (Cli *cli)
{
  if (!cli->finished && cli->n_sent == cli->tracked->len)
    cli_finish (cli, 0);
}

static void
on_item_status (ConfabOutboxItem *item,
                GParamSpec       *pspec,
                Cli              *cli)
{
  ConfabOutboxStatus status = confab_outbox_item_get_status (item);
  guint index;

  if (cli->finished || !g_ptr_array_find (cli->tracked, item, &index))
    return;

  if (status == CONFAB_OUTBOX_STATUS_SENT)
    {
      JsonBuilder *builder = cli_line_begin (cli, "sent");

      cli_add_string (builder, "id", confab_outbox_item_get_id (item));
      cli_add_int (builder, "line", g_array_index (cli->lines, guint, index));
      cli_line_end (builder);
      cli->n_sent++;
      cli_send_check (cli);
    }
  else if (status == CONFAB_OUTBOX_STATUS_FAILED)
    {
      const GError *error = confab_outbox_item_get_last_error (item);
      g_autoptr(GError) fallback = NULL;

      if (error == NULL)
        error = fallback = g_error_new_literal (CONFAB_ERROR, CONFAB_ERROR_REJECTED, _("The server refused a message"));
      cli_fail (cli, error);
    }
}

static void
track (Cli              *cli,
       ConfabOutboxItem *item,
       guint             line)
{
  g_ptr_array_add (cli->tracked, g_object_ref (item));
  g_array_append_val (cli->lines, line);
  g_signal_connect (item, "notify::status", G_CALLBACK (on_item_status), cli);
}

/* Loads the outbox, keeps anything a killed run left (it is resent with its ids) and
 * enqueues the new messages: TEXT, or each stdin line. Errors are GErrors to print. */
gboolean
cli_send_prepare (Cli     *cli,
                  GError **error)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree char *directory = NULL;
  guint n_items;

  if (cli->rest != NULL && cli->rest[0] != NULL)
    {
      g_autofree char *joined = g_strjoinv (" ", cli->rest);
      guint one = 1;

      g_ptr_array_add (texts, g_steal_pointer (&joined));
      g_array_append_val (numbers, one);
    }
  else
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr(GDataInputStream) data = g_data_input_stream_new (in);
      guint number = 0;

      for (;;)
        {
          g_autoptr(GError) read_error = NULL;
          char *line = g_data_input_stream_read_line_utf8 (data, NULL, NULL, &read_error);

          if (read_error != NULL)
            {
              g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                           _("Could not read standard input: %s"), read_error->message);
              return FALSE;
            }
          if (line == NULL)
            break;
          number++;
          g_strchomp (line);
          if (*line == '\0')
            {
              g_free (line);
              continue;
            }
          g_ptr_array_add (texts, line);
          g_array_append_val (numbers, number);
        }
    }

  /* Every message is checked before any is stored, so a bad line stores nothing. */
  for (guint i = 0; i < texts->len; i++)
    if (!confab_outbox_validate (cli->channel, g_ptr_array_index (texts, i), error))
      return FALSE;

  if (cli->outbox_dir != NULL)
    directory = g_strdup (cli->outbox_dir);
  else
    {
      g_autofree char *name = g_strconcat ("outbox-", cli->user, NULL);

      directory = g_build_filename (g_get_user_state_dir (), "confab-cli", name, NULL);
    }
  if (g_mkdir_with_parents (directory, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_ERROR, CONFAB_ERROR_STORAGE,
                   _("Could not create the outbox directory: %s"), g_strerror (saved));
      return FALSE;
    }
  cli->outbox = confab_outbox_new (directory, error);
  if (cli->outbox == NULL)
    return FALSE;

  /* What a killed run left behind goes first, with its ids (line 0: not from this run). */
  n_items = g_list_model_get_n_items (G_LIST_MODEL (cli->outbox));
  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(ConfabOutboxItem) item = g_list_model_get_item (G_LIST_MODEL (cli->outbox), i);
      ConfabOutboxStatus status = confab_outbox_item_get_status (item);

      if (status == CONFAB_OUTBOX_STATUS_QUEUED || status == CONFAB_OUTBOX_STATUS_SENDING)
        track (cli, item, 0);
    }

  for (guint i = 0; i < texts->len; i++)
    {
      ConfabOutboxItem *item = confab_outbox_enqueue (cli->outbox, cli->channel,
                                                      g_ptr_array_index (texts, i), error);

      if (item == NULL)
        return FALSE;
      track (cli, item, g_array_index (numbers, guint, i));
    }
  return TRUE;
}
