"""Subscriptions and alerts: monitors follow what the red-flag engine finds and how processes change.

Events (new release rows, flag events) are matched to subscriptions by ``jobs.match_new_events``, which writes one
alert per (subscription, event) and one outbox row per (alert, channel) in the same transaction; delivery to SMTP
and webhooks is ``jobs.deliver_pending_messages``; the inbox and the Atom feed read the alerts directly.
"""
