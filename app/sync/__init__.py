"""Offline sync with WatermelonDB's protocol (GET and POST /v1/sync), over the domains'
own services: one write path for REST and sync."""
