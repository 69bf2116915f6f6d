"""Calendar schedules: cron expressions in a time zone, run by a background service."""
