// Package grafanadouble is a TEST DOUBLE of Grafana's HTTP API, not Grafana.
//
// No Grafana build can be had on llmmon's machines, so llmmon's Grafana side
// (datasource health, dashboard import, folders, search, auth) is tested
// against this small, faithful stand-in of Grafana 12's documented legacy
// /api endpoints. Status codes, messages and JSON shapes follow Grafana's
// docs and source; where the double is simpler, the difference is listed in
// README.md next to this file.
//
// Like real Grafana it:
//   - loads provisioning (datasources/*.yaml, dashboards/*.yaml providers)
//     at start and refuses to start on bad provisioning;
//   - keeps its state in the data dir (like grafana.db) and takes the admin
//     password from its configuration only when that state is first created;
//   - honours basic auth, service-account tokens and anonymous access.
//
// Tests use it in-process:
//
//	srv, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "pw"})
//	ts := httptest.NewServer(srv.Handler())
//
// or via StartTest. The command in cmd/grafana-double wraps it for Docker.
package grafanadouble
