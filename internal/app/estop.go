package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/anomaly"
	"github.com/sintgate/sintgate/estop/link"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
)

// Hardware names the e-stop hardware of a gateway. With any of it
// configured the gateway boots tripped (PROTOCOL.md §8) and needs a reset
// once every latched source has cleared.
type Hardware struct {
	LinkAddr  string // listen address for the e-stop controller link (sint-estopd dials it)
	KeyFile   string // file with the link's shared key, hex, ≥ 16 bytes
	ButtonPin string // periph.io pin name of a normally-closed e-stop button
	RelayPin  string // periph.io pin name of the safety relay output
	// Pins resolves pin names; nil resolves through periph.io's host drivers.
	Pins func(name string) (gpio.PinIO, error)
}

// Configured reports whether any hardware is named.
func (h Hardware) Configured() bool {
	return h.LinkAddr != "" || h.ButtonPin != "" || h.RelayPin != ""
}

// bootSources are the latching sources a configured gateway boots with.
func (h Hardware) bootSources() []estop.Source {
	var s []estop.Source
	if h.LinkAddr != "" {
		s = append(s, estop.Source{ID: "controller", Kind: estop.KindController})
	}
	if h.ButtonPin != "" {
		s = append(s, estop.Source{ID: h.ButtonPin, Kind: estop.KindGPIO})
	}
	return s
}

func hostPins(name string) (gpio.PinIO, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("periph host init: %w", err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("no GPIO pin named %q on this host", name)
	}
	return p, nil
}

// readLinkKey reads a hex key file.
func readLinkKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 16 {
		return nil, errors.New("e-stop key file must hold ≥ 16 bytes as hex")
	}
	return k, nil
}

// startHardware starts the controller link, button and relay until ctx ends.
// Failing to start any of them trips the breaker (fail safe) and returns
// the error.
func startHardware(ctx context.Context, h Hardware, b *estop.Breaker, log *slog.Logger) error {
	if h.Pins == nil {
		h.Pins = hostPins
	}
	fail := func(src estop.Source, err error) error {
		_, _ = b.Trip(context.WithoutCancel(ctx), src, "e-stop hardware failed to start: "+err.Error())
		return err
	}
	if h.LinkAddr != "" {
		src := estop.Source{ID: "controller", Kind: estop.KindController}
		if h.KeyFile == "" {
			return fail(src, errors.New("--estop-link needs --estop-key-file"))
		}
		key, err := readLinkKey(h.KeyFile)
		if err != nil {
			return fail(src, err)
		}
		_, errc, err := link.ListenAndServe(ctx, h.LinkAddr, key, b, link.Config{}, log)
		if err != nil {
			return fail(src, err)
		}
		go func() {
			if err := <-errc; err != nil && ctx.Err() == nil {
				log.Error("e-stop link stopped", "err", err)
			}
		}()
		log.Info("e-stop controller link listening", "addr", h.LinkAddr)
	}
	if h.ButtonPin != "" {
		pin, err := h.Pins(h.ButtonPin)
		if err != nil {
			return fail(estop.Source{ID: h.ButtonPin, Kind: estop.KindGPIO}, err)
		}
		go func() { _ = estop.NewButton(pin, 0, 0, b).Run(ctx) }()
	}
	if h.RelayPin != "" {
		pin, err := h.Pins(h.RelayPin)
		if err != nil {
			return fail(estop.Source{ID: h.RelayPin, Kind: estop.KindGPIO}, err)
		}
		r := estop.NewRelay(pin)
		go func() {
			_ = r.Run(ctx, b)
			r.Halt() // de-energised on shutdown
		}()
	}
	return nil
}

// anomalyFeed connects the anomaly detector to decisions: it opens agents'
// circuits and trips the breaker on the detector's verdicts, and answers
// the pipeline's tier-bump question.
type anomalyFeed struct {
	d         *anomaly.Detector
	threshold float64
	clock     func() time.Time
}

// Anomalous implements gateway.Anomaly.
func (a *anomalyFeed) Anomalous(agentID string) bool {
	return a.d.Score(agentID, a.clock()) >= a.threshold
}

// observe feeds one authenticated decision to the detector and acts on its
// verdict.
func (a *anomalyFeed) observe(p *gateway.Pipeline, b *estop.Breaker, l ledger.Store, log *slog.Logger, req *gateway.Request, res *gateway.Result) {
	if req == nil || (res.Outcome.Stage < 4 && res.Outcome.Code != "CIRCUIT_OPEN") {
		return // not authenticated: cannot be attributed to the agent
	}
	now := a.clock()
	tripOnFlood := false
	if st := p.State(); st != nil && st.Policy != nil {
		tripOnFlood = st.Policy.TripOnInjectionFlood()
	}
	v := a.d.Observe(now, anomaly.Observation{AgentID: req.AgentID, Decision: res.Body.Decision, Code: res.Outcome.Code, Severe: res.Outcome.Physics.Severe, TripOnFlood: tripOnFlood})
	ctx := context.Background()
	if v.InjectionFlood && !v.Trip {
		// Policy tripOnInjectionFlood: false (the default): the agent's
		// circuit opens below (agent.circuit.opened is a dashboard alert)
		// and operators are alerted here; the fleet keeps running.
		log.Warn("injection flood: agent circuit opened, e-stop not tripped (policy tripOnInjectionFlood: false)", "agentId", req.AgentID, "reason", v.FloodReason)
	}
	if v.OpenCircuit && p.Circuits.Open(req.AgentID, v.CircuitReason, now) {
		if _, err := l.Append(ctx, ledger.Event{EventType: "agent.circuit.opened", AgentID: req.AgentID, Payload: map[string]any{
			"agentId": req.AgentID, "cause": v.CircuitReason, "score": v.Score,
		}}); err != nil {
			log.Error("ledger append", "eventType", "agent.circuit.opened", "err", err)
		}
	}
	if v.Trip {
		if _, err := b.Trip(ctx, estop.Source{ID: "anomaly-detector", Kind: estop.KindAnomaly}, v.TripReason); err != nil {
			log.Error("anomaly trip", "err", err)
		}
	}
}

// fleetIdentity returns the fleet id GET /v1/estop names in a replicated
// deployment (shared true): the Merkle leaf hash of the shared ledger's first
// entry (hex).
// Every replica of one fleet reads the same one, a replica's restart keeps
// it, and only replacing the fleet's PostgreSQL state (where its e-stop
// state, approvals and ledger live) changes it — which a bridge must take
// as lost state (PROTOCOL §9). A single node has none ("").
func fleetIdentity(ctx context.Context, shared bool, lg ledger.Store) (string, error) {
	if !shared {
		return "", nil
	}
	// The tree hash at size 1 (the first entry's leaf hash), not the entry:
	// archiving deletes sealed entry rows from PostgreSQL but keeps the
	// tree, so a replica whose host cannot read the archive still starts
	// and names the same fleet.
	h, err := lg.TreeHash(ctx, 1)
	if err != nil {
		return "", fmt.Errorf("fleet id (the shared ledger's first leaf): %w", err)
	}
	return hex.EncodeToString(h[:]), nil
}
