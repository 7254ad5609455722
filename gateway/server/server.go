// Package server is the gateway's HTTP adapter: fiber routes for the
// endpoint map of PROTOCOL.md §10 around the decision pipeline, the stores,
// the ledger, the e-stop breaker and the key set. Errors are mapped through
// one table (errors.go) to stable codes; internal causes are logged, never
// sent.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// Version is the implementation version advertised in discovery.
const Version = "0.1.0"

// MaxHeaderBytes bounds the request line and header of one request (the
// read buffer of a connection). A request over it is answered 431
// MALFORMED_REQUEST (errors.go) and its connection closed.
const MaxHeaderBytes = 4096

// Deps are what the server serves.
type Deps struct {
	GatewayID string
	Pipeline  *gateway.Pipeline
	Registry  *gateway.Registry
	Store     store.Store
	Ledger    ledger.Store
	Keys      *attest.Keyset
	Breaker   *estop.Breaker
	Approvals Approvals // may be nil until the approvals service is wired
	Verifier  *tokens.Verifier
	// ReloadPolicy re-reads the policy file; a bad file returns an error and
	// leaves the active policy in place.
	ReloadPolicy func(ctx context.Context) (*policy.Policy, error)
	Log          *slog.Logger
	Clock        func() time.Time
	Metrics      *Metrics
	Operator     OperatorDeps // discovery, risk, dashboard, a2a, economy (discovery.go)
	// FleetID names the shared state of a replicated fleet in GET
	// /v1/estop ("fleetId"); "" for a single node (PROTOCOL §9).
	FleetID string
}

// Server is the HTTP adapter.
type Server struct {
	Deps
	App *fiber.App

	keys     keyWatch     // open streams by API key (keywatch.go)
	tripKeys tripKeyCache // API keys the e-stop trip checks without the store
	// bootID names this server instance in GET /v1/estop: a bridge that
	// sees it change knows the gateway restarted (a fault stop).
	bootID string
}

// New builds the fiber app with every route.
func New(d Deps) *Server {
	s := &Server{Deps: d, bootID: newBootID()}
	s.App = fiber.New(fiber.Config{
		BodyLimit:      gateway.MaxBodyBytes,
		ReadBufferSize: MaxHeaderBytes,
		// Values from Params, Query and headers are copied: handlers keep
		// some (a revoked token id in the revocation set) beyond the
		// request, and fasthttp reuses its buffers.
		Immutable:             true,
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		StreamRequestBody:     false,
	})
	fs := s.App.Server()
	fs.ErrorHandler = markUnread(fs.ErrorHandler)
	s.routes()
	return s
}

func (s *Server) routes() {
	a := s.App
	a.Use(func(c *fiber.Ctx) error {
		c.Set(api.HeaderProtocol, api.Protocol)
		return c.Next()
	})
	a.Get("/health", s.health)
	a.Get("/health/live", s.health)
	a.Get("/health/ready", s.ready)
	a.Get("/.well-known/jwks.json", s.jwks)
	a.Get("/.well-known/sint.json", s.discovery)
	a.Get("/v1/openapi.json", s.openapi)
	if s.Metrics != nil {
		a.Get("/metrics", s.Metrics.handler())
	}

	a.Post("/v1/intercept", s.intercept)
	a.Post("/v1/intercept/batch", s.interceptBatch)

	a.Post("/v1/tokens", s.op("tokens:write"), s.registerToken)
	a.Post("/v1/tokens/delegate", s.delegateToken)
	a.Get("/v1/tokens", s.op("read"), s.listTokens)
	a.Get("/v1/tokens/:id", s.op("read"), s.getToken)
	a.Delete("/v1/tokens/:id", s.op("tokens:write"), s.revokeToken)

	a.Get("/v1/roots", s.op("admin"), s.listRoots)
	a.Post("/v1/roots", s.op("admin"), s.addRoot)
	a.Delete("/v1/roots/:key", s.op("admin"), s.deleteRoot)
	a.Get("/v1/apikeys", s.op("admin"), s.listAPIKeys)
	a.Post("/v1/apikeys", s.op("admin"), s.createAPIKey)
	a.Delete("/v1/apikeys/:id", s.op("admin"), s.deleteAPIKey)
	a.Post("/v1/policy/reload", s.op("admin"), s.reloadPolicy)

	a.Get("/v1/estop", s.estopReader, s.getEstop)
	a.Post("/v1/estop/trip", s.tripEstop)
	a.Post("/v1/estop/reset", s.op("estop:reset"), s.resetEstop)

	s.ledgerRoutes()
	s.approvalRoutes()
	s.circuitRoutes()
	s.dashboardRoutes()
	s.operatorRoutes()
}

// Listen serves on addr until ctx ends, then drains in-flight requests.
func (s *Server) Listen(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.App.ShutdownWithContext(sctx)
}

// Serve serves on ln until the app shuts down. Connections close with a
// lingering close (linger.go), so an answer sent before the whole request
// was read reaches the client.
func (s *Server) Serve(ln net.Listener) error { return s.App.Listener(LingerListener(ln)) }

func (s *Server) now() time.Time { return s.Clock() }

func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// ready reports whether the store is writable and the ledger verifies at
// its head.
func (s *Server) ready(c *fiber.Ctx) error {
	ctx := c.UserContext()
	checks := fiber.Map{}
	ok := true
	if err := s.Store.Ping(ctx); err != nil {
		checks["store"], ok = "unavailable", false
		s.Log.Warn("ready: store", "err", err)
	} else {
		checks["store"] = "ok"
	}
	if f, isF := s.Ledger.(interface{ Failed() error }); isF && f.Failed() != nil {
		// The store failed itself (its background check found the derived
		// files disagreeing with the log): every append is refused, so the
		// gateway denies everything and must not be reported ready.
		checks["ledger"], ok = "failed", false
		s.Log.Warn("ready: ledger failed", "err", f.Failed())
	} else if size, err := s.Ledger.Size(ctx); err != nil {
		checks["ledger"], ok = "unavailable", false
		s.Log.Warn("ready: ledger", "err", err)
	} else if size > 0 {
		from := uint64(1)
		if size > 16 {
			from = size - 15
		}
		res, err := s.Ledger.Verify(ctx, from, size)
		if err != nil || !res.Valid {
			checks["ledger"], ok = "does not verify", false
		} else {
			checks["ledger"] = "ok"
		}
	} else {
		checks["ledger"] = "ok"
	}
	var replay any
	if s.Pipeline != nil {
		replay = s.Pipeline.Replay
	}
	if h, isH := replay.(interface{ Healthy(context.Context) error }); isH {
		// A replay cache that refuses every request (a fleet's Redis that
		// may evict keys) makes the gateway deny everything.
		if err := h.Healthy(ctx); err != nil {
			checks["replay"], ok = "unavailable", false
			s.Log.Warn("ready: replay protection", "err", err)
		} else {
			checks["replay"] = "ok"
		}
	}
	checks["estop"] = s.Breaker.Snapshot().String()
	if !ok {
		return c.Status(503).JSON(fiber.Map{"status": "unavailable", "checks": checks})
	}
	return c.JSON(fiber.Map{"status": "ok", "checks": checks})
}

func (s *Server) jwks(c *fiber.Ctx) error {
	c.Set("Content-Type", "application/json")
	c.Set("Cache-Control", "public, max-age=300")
	return c.Send(s.Keys.JWKS(s.now()))
}

func (s *Server) discovery(c *fiber.Ctx) error {
	cp, err := s.checkpointVerifiers()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{
		"implementation": "sintgate", "version": Version, "protocol": api.Protocol,
		"gatewayId": s.GatewayID, "jwks_uri": c.BaseURL() + "/.well-known/jwks.json",
		"tiers":      []fiber.Map{{"tier": 1, "name": "observe"}, {"tier": 2, "name": "prepare"}, {"tier": 3, "name": "act"}, {"tier": 4, "name": "commit"}, {"tier": 5, "name": "critical"}},
		"bridges":    api.Bridges(),
		"checkpoint": cp,
		"endpoints":  endpointList,
	})
}

// checkpointDiscovery is the checkpoint member of /.well-known/sint.json: what
// a witness needs to verify checkpoint notes without deriving anything.
type checkpointDiscovery struct {
	// Origin is the first line of every checkpoint note and the note key name.
	Origin string `json:"origin"`
	// VerifierKey is the C2SP signed-note verifier key of the active key,
	// which signs new checkpoints.
	VerifierKey string `json:"verifierKey"`
	// VerifierKeys holds the verifier keys of every key in the JWKS, active
	// first, so that checkpoints signed before a rotation still verify.
	VerifierKeys []string `json:"verifierKeys"`
}

// checkpointVerifiers builds the checkpoint member from the published keys.
func (s *Server) checkpointVerifiers() (checkpointDiscovery, error) {
	d := checkpointDiscovery{Origin: ledger.Origin(s.GatewayID)}
	for _, k := range s.Keys.Published(s.now()) {
		vk, err := ledger.NoteVerifierKey(s.GatewayID, k.Public)
		if err != nil {
			return d, err
		}
		d.VerifierKeys = append(d.VerifierKeys, vk)
	}
	d.VerifierKey = d.VerifierKeys[0]
	return d, nil
}

// verifySig is the single Ed25519 verification rule, shared with tokens.
func verifySig(pub, msg, sig []byte) bool { return tokens.VerifySig(pub, msg, sig) }

// storeErr maps a store error to an API error.
func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apiErr(404, codes.NotFound, what+" not found")
	case errors.Is(err, store.ErrExists):
		return apiErr(409, codes.Conflict, what+" already exists")
	case errors.Is(err, store.ErrConflict):
		return apiErr(409, codes.Conflict, what+" changed concurrently")
	}
	return err
}
