"""The transactional outbox: events written with the change that caused them, delivered later.

A change (a connection turning ``needs_reauth``, a user created, …) calls ``Outbox.publish`` with
the SQLAlchemy session of its own transaction: the message rows are committed with the change or
not at all, so a crash between the change and the delivery loses nothing. The delivery worker
(``outbox.worker.DeliveryWorker``, run by ``authgate serve``) then claims due rows, hands each to
its channel, and records the outcome.

The API a delivery channel codes against (names kept stable):

* ``outbox.message``: ``Event`` (what happened: ``type``, ``data``, ``ordering_key``, ``at``),
  ``Recipient`` (``channel``, ``destination``), ``Message`` (one event for one recipient, as the
  worker hands it over: ``message_id``, ``channel``, ``destination``, ``ordering_key``,
  ``event_type``, ``body`` (the JSON text), ``payload`` (parsed), ``attempts``, ``created_at``),
  ``DeliveryResult`` (``delivered`` / ``retry`` with an optional ``retry_after`` in seconds /
  ``failed`` for good, plus ``answer``: a short, secret-free description for the delivery log),
  and the two protocols:
  - ``Channel``: ``async def deliver(self, message: Message) -> DeliveryResult``;
  - ``Router``: ``def recipients(self, s: Session, event: Event) -> Iterable[Recipient]``,
    called inside the change's transaction to say who gets the event.
* ``outbox.events``: the event types and the payload builders (never a token).
* ``outbox.store.Outbox(db, routers=[...])``: ``publish``; the claim/finish/resend the worker and
  the console use.
* ``outbox.worker.DeliveryWorker(outbox, channels={"webhook": ..., "telegram": ...}, clock)``.

A new channel adds a ``Router`` (who, for which events) and a ``Channel`` (how), both wired in
``runtime.py``. Ordering: messages of one ``(channel, destination, ordering_key)`` go out one at a
time, in the order they were written; a later one waits until the earlier one is delivered or
dead. Retries: exponential backoff with jitter for ``RETRY_WINDOW`` (24 h), then dead.
"""
