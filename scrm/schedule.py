"""Every periodic task, declared in one place (read by ``scrm.celery``).

Beat only enqueues; each task claims its own work from Postgres (``due_at`` rows), so a missed or
doubled beat tick changes nothing.
"""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}

# analytics: new customers / churned follows of today and yesterday; nightly RFM rescoring.
BEAT_SCHEDULE["analytics-refresh-recent"] = {"task": "analytics.rollups.refresh_recent", "schedule": 600.0}
BEAT_SCHEDULE["analytics-rfm-nightly"] = {"task": "analytics.rollups.rfm_nightly", "schedule": 24 * 3600.0}
# analytics: refit the purchase/spend models (BG/NBD + Gamma-Gamma) and rescore every buyer, nightly.
BEAT_SCHEDULE["analytics-predict-nightly"] = {"task": "analytics.predict.refit_all", "schedule": 24 * 3600.0}

# channels (lead sources): Ocean Engine leads on a moving window (late fields re-pulled by the
# overlap), 视频号 live-room lead forms, Meituan redemptions made elsewhere, WeCom staff behaviour.
BEAT_SCHEDULE["channels-douyin-leads"] = {"task": "channels.sync.douyin_leads", "schedule": 120.0}
BEAT_SCHEDULE["channels-video-leads"] = {"task": "channels.sync.video_leads", "schedule": 300.0}
BEAT_SCHEDULE["channels-meituan-redemptions"] = {"task": "channels.sync.meituan_redemptions", "schedule": 600.0}
BEAT_SCHEDULE["channels-wecom-behavior"] = {"task": "channels.sync.wecom_behavior", "schedule": 6 * 3600.0}

# channels (WeCom + inbox): re-enqueue inbox events whose enqueue was lost or whose worker died (a
# heartbeat older than INBOX_STALE_SECONDS);
# a full WeCom sync heals dropped/out-of-order callbacks.
BEAT_SCHEDULE["channels-inbox-sweep"] = {"task": "channels.inbox.sweep", "schedule": 15.0}
BEAT_SCHEDULE["channels-wecom-full-sync"] = {"task": "channels.sync.wecom_all", "schedule": 6 * 3600.0}
# 活码 rosters: every minute, codes on a fallback of an earlier Beijing day get their members back, and
# codes with working-hours windows get the open window's staff (switched within a minute of the edge).
BEAT_SCHEDULE["channels-contact-way-caps"] = {"task": "channels.sync.contact_way_caps_rollover", "schedule": 60.0}
# 应用消息: every minute, app messages whose task was lost or whose worker died are sent again (inside
# WeCom's 30-minute duplicate check; older ones are marked failed instead of risking a second copy).
BEAT_SCHEDULE["channels-app-messages-sweep"] = {"task": "channels.sync.wecom_app_messages_sweep", "schedule": 60.0}
# 待办: every 30 minutes, members with overdue to-dos get an app message (≤ 3 per Beijing day each).
BEAT_SCHEDULE["channels-todo-reminders"] = {"task": "channels.sync.todo_reminders", "schedule": 1800.0}
# 获客链接: hourly, each live link's customer list (click-to-add counts per customer_channel).
BEAT_SCHEDULE["channels-acquisition-stats"] = {"task": "channels.sync.acquisition_stats_all", "schedule": 3600.0}

# campaigns: start due scheduled/recurring campaigns and (re)enqueue due or orphaned batches; follow
# member confirmations, reminders and per-recipient results; recompute attribution and lift.
BEAT_SCHEDULE["campaigns-due"] = {"task": "campaigns.dispatch.due_tick", "schedule": 30.0}
BEAT_SCHEDULE["campaigns-track"] = {"task": "campaigns.dispatch.track_tick", "schedule": 120.0}
BEAT_SCHEDULE["campaigns-results"] = {"task": "campaigns.results.compute_all", "schedule": 3600.0}
BEAT_SCHEDULE["channels-leads-retention"] = {"task": "channels.leads.retention", "schedule": 24 * 3600.0}
# lead pool (公海): every minute, new leads enter, overdue assignments return, rules hand out the queue.
BEAT_SCHEDULE["channels-lead-pool"] = {"task": "channels.leads.pool_tick", "schedule": 60.0}

# accounts: django-axes' login records (usernames, IP addresses) are kept LOGIN_LOG_RETENTION_DAYS.
BEAT_SCHEDULE["scrm-login-records-retention"] = {"task": "scrm.auth.login_records_retention", "schedule": 24 * 3600.0}

# contacts: re-enqueue customer imports whose message was lost or whose worker died mid-chunk.
BEAT_SCHEDULE["contacts-imports-sweep"] = {"task": "contacts.imports.sweep", "schedule": 300.0}

# contacts: tagging rules (自动打标签) for everyone every 15 minutes (and for buyers as their orders land).
BEAT_SCHEDULE["contacts-tag-rules"] = {"task": "contacts.tag_rules.apply_all", "schedule": 900.0}

# contacts: lifecycle stages move with the calendar (沉睡 after the brand's idle days).
BEAT_SCHEDULE["contacts-lifecycle-daily"] = {"task": "contacts.lifecycle.refresh_all", "schedule": 24 * 3600.0}
# contacts: every saved segment's brand-wide count (last_count), recounted nightly per organization.
BEAT_SCHEDULE["contacts-segments-recount"] = {"task": "contacts.segments.recount_all", "schedule": 24 * 3600.0}

# journeys: every minute, scheduled triggers enrol, exits/goals apply and every due step runs once
# (claimed by its StepRun row; a doubled tick finds nothing to do).
BEAT_SCHEDULE["journeys-tick"] = {"task": "journeys.tick", "schedule": 60.0}

# referrals: every 5 minutes, friends past 24 hours are confirmed, rewards claimed (one row per tier) and
# issued once, and campaigns past their end retire their 活码.
BEAT_SCHEDULE["referrals-tick"] = {"task": "referrals.tick", "schedule": 300.0}
# offers: re-enqueue segment coupon issues (分群发券) whose message was lost or whose worker died mid-batch.
BEAT_SCHEDULE["offers-issue-jobs-sweep"] = {"task": "offers.issue_jobs.sweep", "schedule": 120.0}
# journeys: group SOP (群SOP) every minute: due (step, group, Beijing day) claimed once by their run rows.
BEAT_SCHEDULE["journeys-group-sop-tick"] = {"task": "journeys.group_sop_tick", "schedule": 60.0}
