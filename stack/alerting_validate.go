package stack

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// adder reports one invalid setting (see Config.Validate).
type adder func(paths []string, format string, a ...any)

func (s SLO) validate(add adder) {
	one := func(p string) []string { return []string{p} }
	for _, o := range []struct {
		path string
		v    float64
	}{{"slo.availability", s.Availability}, {"slo.ttft_target", s.TTFTTarget}} {
		if o.v <= 0 || o.v >= 100 {
			add(one(o.path), "{} is %g: an objective is a percentage above 0 and below 100, such as 99.5", o.v)
		}
	}
	if !slices.Contains(llmmetrics.GenAITTFTBuckets, s.TTFTSeconds) {
		add(one("slo.ttft_seconds"), "{} is %g: it must be a bucket boundary of the TTFT histograms (%s), "+
			"since the share of slow requests is counted from buckets and between two boundaries it would be a guess; %s",
			s.TTFTSeconds, bucketList(), nearestBuckets(s.TTFTSeconds))
	}
}

func bucketList() string {
	var b []string
	for _, v := range llmmetrics.GenAITTFTBuckets {
		if v >= 0.1 {
			b = append(b, strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	return "..., " + strings.Join(b, ", ")
}

// nearestBuckets suggests the boundaries around v.
func nearestBuckets(v float64) string {
	bs := llmmetrics.GenAITTFTBuckets
	i, _ := slices.BinarySearch(bs, v)
	switch {
	case i == 0:
		return fmt.Sprintf("use %g", bs[0])
	case i == len(bs):
		return fmt.Sprintf("use %g", bs[len(bs)-1])
	}
	return fmt.Sprintf("use %g or %g", bs[i-1], bs[i])
}

var receiverNameRE = jobNameRE

func (a Alerting) validate(add adder) {
	one := func(p string) []string { return []string{p} }
	if a.Webhook != "" {
		if err := checkURL(a.Webhook); err != nil {
			add(one("alerting.webhook"), "invalid webhook URL %q for {}: %v", a.Webhook, err)
		}
	}
	for _, d := range []struct {
		path string
		v    Duration
	}{{"alerting.group_wait", a.GroupWait}, {"alerting.group_interval", a.GroupInterval},
		{"alerting.repeat_interval", a.RepeatInterval}, {"alerting.resolve_timeout", a.ResolveTimeout}} {
		if d.v < Duration(time.Second) || time.Duration(d.v)%time.Millisecond != 0 {
			add(one(d.path), "{} is %s: it must be at least 1s", d.v)
		}
	}
	if a.RepeatInterval < a.GroupInterval {
		add([]string{"alerting.repeat_interval", "alerting.group_interval"}, "{} (%s) is shorter than {} (%s): Alertmanager repeats a notification only at a group interval", a.RepeatInterval, a.GroupInterval)
	}
	seen := map[string]string{}
	for i, r := range a.Receivers {
		at := fmt.Sprintf("alerting.receivers[%d]", i)
		switch first, dup := seen[r.Name]; {
		case !receiverNameRE.MatchString(r.Name):
			add(one(at+".name"), "invalid receiver name %q for {}: use letters, digits, '_', '.', ':' or '-'", r.Name)
		case r.Name == NobodyReceiver || r.Name == AlertWebhookReceiver:
			add(one(at+".name"), "{} %q is llmmon's own receiver: choose another name", r.Name)
		case dup:
			add([]string{first, at + ".name"}, "{} and {} are both %q: each receiver needs its own name", r.Name)
		default:
			seen[r.Name] = at + ".name"
		}
		for j, sev := range r.Severities {
			if !slices.Contains(Severities(), sev) {
				add(one(fmt.Sprintf("%s.severities[%d]", at, j)), "unknown severity %q for {}: want critical, warning or info", sev)
			}
		}
		kinds := 0
		for _, set := range []bool{r.Webhook != nil, r.Slack != nil, r.Email != nil, r.PagerDuty != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			add(one(at), "receiver %q ({}) needs exactly one of webhook, slack, email or pagerduty (it has %d): give each its own receiver", r.Name, kinds)
			continue
		}
		r.validateKind(at, add)
	}
}

// inline refuses a secret written into llmmon.yaml.
func inline(add adder, at, key, value string) {
	if value != "" {
		add([]string{at + "." + key}, "{} holds a secret in llmmon.yaml, which up records in --dir: write it into a file (mode 0600) and give %s_file instead", key)
	}
}

func (r Receiver) validateKind(at string, add adder) {
	one := func(p string) []string { return []string{p} }
	switch {
	case r.Webhook != nil:
		w := r.Webhook
		at += ".webhook"
		switch {
		case (w.URL == "") == (w.URLFile == ""):
			add(one(at), "{} needs exactly one of url and url_file")
		case w.URL != "":
			if err := checkURL(w.URL); err != nil {
				add(one(at+".url"), "invalid URL %q for {}: %v", w.URL, err)
			}
		}
	case r.Slack != nil:
		at += ".slack"
		inline(add, at, "api_url", r.Slack.APIURL)
		if r.Slack.APIURLFile == "" {
			add(one(at+".api_url_file"), "{} must name the file that holds the Slack incoming-webhook URL")
		}
		if c := r.Slack.Channel; c != "" && !strings.HasPrefix(c, "#") && !strings.HasPrefix(c, "@") {
			add(one(at+".channel"), "invalid Slack channel %q for {}: want #channel or @user", c)
		}
	case r.Email != nil:
		e := r.Email
		at += ".email"
		inline(add, at, "auth_password", e.AuthPassword)
		for _, f := range []struct{ key, v string }{{"to", e.To}, {"from", e.From}} {
			if _, err := mail.ParseAddressList(f.v); err != nil {
				add(one(at+"."+f.key), "invalid e-mail address %q for {}: %v", f.v, err)
			}
		}
		if err := validateHostPort(e.Smarthost); err != nil {
			add(one(at+".smarthost"), "{}: %v (the SMTP server, e.g. smtp.example.com:587)", err)
		}
		if (e.AuthUsername == "") != (e.AuthPasswordFile == "") {
			add(one(at), "{} needs both auth_username and auth_password_file, or neither")
		}
	case r.PagerDuty != nil:
		p := r.PagerDuty
		at += ".pagerduty"
		inline(add, at, "routing_key", p.RoutingKey)
		inline(add, at, "service_key", p.ServiceKey)
		if (p.RoutingKeyFile == "") == (p.ServiceKeyFile == "") {
			add(one(at), "{} needs exactly one of routing_key_file (Events API v2) and service_key_file (v1)")
		}
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want http:// or https://")
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && u.Hostname() == "" {
		return fmt.Errorf("no host")
	}
	return nil
}
