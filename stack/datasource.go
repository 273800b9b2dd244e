package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/llmmon/llmmon/stack/grafana"
)

// checkDatasource proves the Grafana → Prometheus path: first that the
// stored admin password works, then Grafana's own datasource health check.
// freshVolume says up created Grafana's volume just now: then a refused
// password is not an old volume's, and the message says so.
func (w *waiter) checkDatasource(ctx context.Context, g *grafana.Client, dir string, n Names, freshVolume bool, image string) error {
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := g.DatasourceByUID(cctx, DatasourceUID)
		if err == nil {
			err = g.DatasourceHealth(cctx, DatasourceUID)
		}
		cancel()
		if err == nil {
			w.emit(DatasourceHealthy{UID: DatasourceUID, URL: DatasourceURL, Elapsed: time.Since(w.start)})
			return nil
		}
		if grafana.IsStatus(err, 401) || grafana.IsStatus(err, 403) {
			if freshVolume {
				return passwordNotApplied(dir, n, image)
			}
			return wrongPassword(dir, n)
		}
		if grafana.IsStatus(err, 404) {
			return fmt.Errorf("grafana has no datasource %q: its provisioning was not loaded (see llmmon doctor, or docker logs %s)", DatasourceUID, n.Grafana)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("grafana's datasource %q did not become healthy within %s: %v\n  see llmmon doctor", DatasourceUID, w.wait, lastErr)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// checkAlertmanagerDatasource proves the Grafana → Alertmanager path as
// Grafana's own "Save & test" of an Alertmanager datasource does: its
// status API, through the datasource proxy.
func (w *waiter) checkAlertmanagerDatasource(ctx context.Context, g *grafana.Client, n Names) error {
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := g.AlertmanagerDatasourceHealth(cctx, AlertmanagerDatasourceUID)
		cancel()
		if err == nil {
			w.emit(DatasourceHealthy{UID: AlertmanagerDatasourceUID, URL: AlertmanagerURL, Elapsed: time.Since(w.start)})
			return nil
		}
		if grafana.IsStatus(err, 404) {
			return fmt.Errorf("grafana has no datasource %q: its provisioning was not loaded (see llmmon doctor, or docker logs %s)", AlertmanagerDatasourceUID, n.Grafana)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("grafana's datasource %q did not reach Alertmanager within %s: %v\n  see llmmon doctor", AlertmanagerDatasourceUID, w.wait, lastErr)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
