import { Counter, type Registry } from 'prom-client';

const NAME = 'iot_alert_notifications_total';

/**
 * Delivery attempts of alert notifications by target (`alertmanager`, `webhook`) and outcome
 * (`delivered`, `failed`, and `given_up` for a webhook delivery a day old): one counter that both
 * notifiers share.
 */
export function notificationDeliveries(registry: Registry): Counter<'target' | 'outcome'> {
  return (
    (registry.getSingleMetric(NAME) as Counter<'target' | 'outcome'> | undefined) ??
    new Counter({
      name: NAME,
      help: 'Alert notification deliveries, by target (alertmanager, webhook) and outcome (delivered, failed, given_up)',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    })
  );
}
