-- Alerts, newest first: crisis (volume spikes, sentiment dips), impersonation, budget. Each key
-- is one alert, shown in its latest state.
-- param kind: String = ''                         spike, sentiment_dip, impersonation, budget; '' all
-- param entry: String = ''                        watch entry name; '' for all
-- param limit: UInt32 = 100                       how many alerts
-- example: veille query alerts --param kind=impersonation --format json
SELECT
    key,
    kind,
    severity,
    entry,
    created_at,
    title,
    detail,
    data
FROM alerts FINAL
WHERE ({kind:String} = '' OR kind = {kind:String})
  AND ({entry:String} = '' OR entry = {entry:String})
ORDER BY created_at DESC, key
LIMIT {limit:UInt32}
