package server

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/gateway/risk"
	"github.com/sintgate/sintgate/ledger"
)

// AlertScanEntries is how many of the newest ledger entries
// /v1/dashboard/alerts scans for alert events.
const AlertScanEntries = 5000

// alertEventTypes maps the ledger events that are dashboard alerts to
// their alert kind.
var alertEventTypes = map[string]string{
	"agent.goal.hijack_detected": "injection",
	"safety.violation":           "severe_violation", // only severe ones
	"agent.circuit.opened":       "circuit_open",
	"safety.estop.tripped":       "estop_trip",
	"approval.expired":           "approval_timeout",
}

func (s *Server) dashboardAPIRoutes() {
	s.App.Get("/v1/dashboard/stats", s.op("read"), s.dashStats)
	s.App.Get("/v1/dashboard/agents", s.op("read"), s.dashAgents)
	s.App.Get("/v1/dashboard/alerts", s.op("read"), s.dashAlerts)
}

// dashStats is GET /v1/dashboard/stats.
func (s *Server) dashStats(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := s.now()
	out := fiber.Map{"at": now.UnixMilli()}
	if m := s.Operator.Risk; m != nil {
		out["decisions"] = m.Stats.Snapshot(now)
		subs, dropped := m.Hub.Stats()
		out["riskStream"] = fiber.Map{"subscribers": subs, "droppedSlowClients": dropped}
	} else {
		out["decisions"] = nil
	}
	if s.Approvals != nil {
		pending, err := s.Approvals.List(ctx, "pending", 0)
		if err != nil {
			return err
		}
		out["pendingApprovals"] = len(pending)
	}
	b := s.Breaker.Snapshot()
	out["estop"] = fiber.Map{"state": b.String(), "epoch": b.Epoch, "since": b.Since.UnixMilli(), "reason": b.Reason}
	size, err := s.Ledger.Size(ctx)
	if err != nil {
		return ledgerErr(err)
	}
	lg := fiber.Map{"size": size, "lastCheckpoint": nil}
	l := ledger.Ledger{Store: s.Ledger, Now: s.Clock}
	cp, err := l.LatestCheckpoint(ctx)
	switch {
	case err == nil:
		lg["lastCheckpoint"] = cp
	case !errors.Is(err, ledger.ErrNotFound):
		return ledgerErr(err)
	}
	out["ledger"] = lg
	return c.JSON(out)
}

// dashAgents is GET /v1/dashboard/agents: registered agents with their
// live risk and circuit, then agents seen deciding but not registered.
func (s *Server) dashAgents(c *fiber.Ctx) error {
	all, err := s.Store.ListAgents(c.UserContext())
	if err != nil {
		return err
	}
	type row struct {
		agentView
		Registered bool            `json:"registered"`
		RiskDetail *risk.AgentRisk `json:"riskDetail,omitempty"`
	}
	out := []row{}
	seen := map[string]bool{}
	for _, a := range all {
		r := row{agentView: s.agentView(a), Registered: a.Name != ""}
		if s.Operator.Risk != nil {
			if ar, ok := s.Operator.Risk.Tracker.Agent(a.AgentID, s.now()); ok {
				r.RiskDetail = &ar
			}
		}
		seen[a.AgentID] = true
		out = append(out, r)
	}
	if s.Operator.Risk != nil {
		tracked, _ := s.Operator.Risk.Tracker.Snapshot(s.now())
		for _, ar := range tracked {
			if seen[ar.AgentID] {
				continue
			}
			ar := ar
			c := s.Pipeline.Circuits.Get(ar.AgentID)
			r := row{agentView: agentView{Circuit: circuitView(ar.AgentID, c), Risk: &ar.Risk}, RiskDetail: &ar}
			r.AgentID = ar.AgentID
			r.Labels, r.Capabilities = map[string]string{}, []string{}
			out = append(out, r)
		}
	}
	return c.JSON(fiber.Map{"agents": out})
}

type dashAlert struct {
	Kind     string          `json:"kind"`
	Sequence uint64          `json:"sequence"`
	EventID  string          `json:"eventId"`
	At       string          `json:"timestamp"`
	AgentID  string          `json:"agentId"`
	Event    string          `json:"eventType"`
	Payload  json.RawMessage `json:"payload"`
}

// dashAlerts is GET /v1/dashboard/alerts?limit=N: alert events from the
// newest AlertScanEntries ledger entries, newest first (the ledger is the
// source, so every replica answers the same and restarts lose nothing).
func (s *Server) dashAlerts(c *fiber.Ctx) error {
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	ctx := c.UserContext()
	size, err := s.Ledger.Size(ctx)
	if err != nil {
		return ledgerErr(err)
	}
	var after uint64
	if size > AlertScanEntries {
		after = size - AlertScanEntries
	}
	scanned := size - after
	var found []dashAlert
	for {
		entries, next, err := s.Ledger.List(ctx, ledger.ListQuery{After: after, Limit: ledger.MaxListLimit})
		if err != nil {
			return ledgerErr(err)
		}
		for _, e := range entries {
			kind, ok := alertEventTypes[e.EventType]
			if !ok {
				continue
			}
			if e.EventType == "safety.violation" {
				var p struct {
					Severe bool `json:"severe"`
				}
				if json.Unmarshal(e.Payload, &p) != nil || !p.Severe {
					continue
				}
			}
			found = append(found, dashAlert{Kind: kind, Sequence: e.SequenceNumber, EventID: e.EventID, At: e.Timestamp, AgentID: e.AgentID, Event: e.EventType, Payload: e.Payload})
		}
		if next == nil || len(entries) == 0 {
			break
		}
		after = *next
	}
	out := make([]dashAlert, 0, min(limit, len(found)))
	for i := len(found) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, found[i])
	}
	return c.JSON(fiber.Map{"alerts": out, "scanned": scanned})
}
