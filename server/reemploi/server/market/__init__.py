"""The marketplace and coordination web app: organisations and roles, declarations and
rack pooling, claims and pickups, supply and forecast, lots and reservations, solidarity
vouchers, the phone tap page, as an installable French-first PWA.

Custody steps taken here (hand-over at pickup, reserve, release, sell, donate) go through
the same ledger and state machine as the readers' taps (:mod:`.custody_steps`).
"""
