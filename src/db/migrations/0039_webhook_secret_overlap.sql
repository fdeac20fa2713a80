-- 0039_webhook_secret_overlap: a rotated signing secret may keep signing for a while.
--
-- POST /webhook-endpoints/:id/rotate-secret replaced the secret at once, so a receiver
-- verifying with the old one refused every delivery until it was given the new one (and
-- deliveries were retried, then the endpoint disabled after 3 days). Standard Webhooks
-- lets a delivery carry several signatures (space-separated in webhook-signature); a
-- receiver accepts it when any one verifies. A rotation may now keep the previous secret
-- for up to 72 hours: until then every delivery is signed with both, so the receiver can
-- switch at its own pace. The default stays "stops at once" (a leaked secret).
alter table webhook_endpoints
  add column previous_secret text check (previous_secret ~ '^whsec_[A-Za-z0-9+/=]{20,200}$'),
  add column previous_secret_until timestamptz,
  add constraint webhook_endpoints_previous_secret_pair check ((previous_secret is null) = (previous_secret_until is null));
