-- Deliveries may go out on the chat, pager and push providers and the templated webhook too.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_channel_check CHECK (channel IN ('email',
    'webhook', 'slack', 'pagerduty', 'discord', 'telegram', 'teams', 'opsgenie', 'ntfy',
    'pushover', 'google_chat', 'mattermost', 'rocketchat', 'splunk_oncall', 'matrix', 'gotify',
    'custom_webhook'));
