package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/memlimit"
	"github.com/sintgate/sintgate/internal/memrelief"
	"github.com/sintgate/sintgate/ledger"
)

// gcPercent is the collector target of `serve` when GOGC is not set.
const gcPercent = 400

var serveFlags struct {
	dataDir, listen, policy, store, redis, logLevel string
	estopLink, estopKey, buttonPin, relayPin        string
	pprof, memoryLimit, relief, reliefMin           string
	cpInterval                                      time.Duration
	cpEntries                                       uint64
	redisAssumeNoEviction                           bool
}

var serveCmd = &cobra.Command{
	Use:   "serve",
	Short: "Serve the gateway until SIGTERM/SIGINT, then drain in-flight requests and exit 0",
	RunE: func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if os.Getenv("GOGC") == "" {
			// The live heap of a gateway is small (tens of MiB) and each
			// decision allocates ~20 KiB: collecting at 4× the live heap
			// instead of 2× cuts the collector's share of the CPU (about
			// 5% fewer CPU-µs per decision, docs/benchmarks.md) for a few
			// tens of MiB. GOGC in the environment overrides it.
			debug.SetGCPercent(gcPercent)
		}
		// The soft memory limit bounds what that headroom can take after a
		// burst (internal/memlimit); GOMEMLIMIT in the environment wins.
		log := app.NewLogger(serveFlags.logLevel)
		ml, err := applyMemoryLimit(serveFlags.memoryLimit, os.Getenv("GOMEMLIMIT"), memlimit.Detect())
		if err != nil {
			return err
		}
		log.Info("memory limit", "memoryLimit", ml.String())
		// Below the limit, memory a burst left behind goes back to the OS
		// once the gateway is quiet again (internal/memrelief).
		relief, err := memoryRelief(serveFlags.relief, serveFlags.reliefMin, log)
		if err != nil {
			return err
		}
		log.Info("memory relief", "memoryRelief", reliefString(relief))
		go startRelief(ctx, relief)
		if serveFlags.pprof != "" {
			// Profiling on its own listener, never on the API port.
			go func() { _ = http.ListenAndServe(serveFlags.pprof, nil) }()
		}
		return app.Serve(ctx, app.Options{
			DataDir: serveFlags.dataDir, PolicyPath: serveFlags.policy, StoreURL: serveFlags.store,
			RedisAddr: serveFlags.redis, Log: log,
			Hardware: app.Hardware{LinkAddr: serveFlags.estopLink, KeyFile: serveFlags.estopKey,
				ButtonPin: serveFlags.buttonPin, RelayPin: serveFlags.relayPin},
			CheckpointInterval: serveFlags.cpInterval, CheckpointEntries: serveFlags.cpEntries,
			RedisAssumeNoEviction: serveFlags.redisAssumeNoEviction,
		}, serveFlags.listen, os.Stdout)
	},
}

func init() {
	f := serveCmd.Flags()
	f.StringVar(&serveFlags.dataDir, "data-dir", envOr("SINT_DATA_DIR", ".sintgate"), "data directory made by init (env SINT_DATA_DIR)")
	f.StringVar(&serveFlags.listen, "listen", envOr("SINT_LISTEN", "127.0.0.1:8080"), "listen address (env SINT_LISTEN)")
	f.StringVar(&serveFlags.policy, "policy", envOr("SINT_POLICY", ""), "policy file (env SINT_POLICY; default: the shipped policy)")
	f.StringVar(&serveFlags.store, "store", envOr("SINT_STORE", ""), "store URL: empty for the embedded store, postgres://… for PostgreSQL (env SINT_STORE)")
	f.StringVar(&serveFlags.redis, "redis", envOr("SINT_REDIS", ""), "Redis address for replicated deployments (env SINT_REDIS)")
	f.BoolVar(&serveFlags.redisAssumeNoEviction, "redis-assume-noeviction", os.Getenv("SINT_REDIS_ASSUME_NOEVICTION") == "true",
		"start even though Redis refuses CONFIG GET maxmemory-policy (managed Redis): you assert its policy is noeviction; a policy Redis does report is still checked (env SINT_REDIS_ASSUME_NOEVICTION=true)")
	f.StringVar(&serveFlags.logLevel, "log-level", envOr("SINT_LOG_LEVEL", "info"), "debug, info, warn or error")
	f.StringVar(&serveFlags.estopLink, "estop-link", envOr("SINT_ESTOP_LINK", ""), "listen address for the e-stop controller link (sint-estopd); the gateway then boots tripped")
	f.StringVar(&serveFlags.estopKey, "estop-key-file", envOr("SINT_ESTOP_KEY_FILE", ""), "file with the controller link's shared key (hex)")
	f.StringVar(&serveFlags.buttonPin, "estop-button-pin", envOr("SINT_ESTOP_BUTTON_PIN", ""), "GPIO pin of a normally-closed e-stop button (periph.io name)")
	f.StringVar(&serveFlags.relayPin, "estop-relay-pin", envOr("SINT_ESTOP_RELAY_PIN", ""), "GPIO pin of the safety relay (energised = run)")
	f.DurationVar(&serveFlags.cpInterval, "checkpoint-interval", ledger.DefaultCheckpointInterval, "sign a ledger checkpoint at least this often (also at start, at clean shutdown and every --checkpoint-entries entries)")
	f.Uint64Var(&serveFlags.cpEntries, "checkpoint-entries", ledger.DefaultCheckpointEntries, "sign a ledger checkpoint once this many entries were appended since the latest one")
	f.StringVar(&serveFlags.memoryLimit, "memory-limit", envOr("SINT_MEMORY_LIMIT", "auto"),
		"soft memory limit of the Go runtime: auto (min(256MiB + 128MiB per CPU, RAM/4, 90% of the cgroup limit)), off, or a size such as 768MiB (env SINT_MEMORY_LIMIT; GOMEMLIMIT, when set, wins)")
	f.StringVar(&serveFlags.relief, "memory-relief", envOr("SINT_MEMORY_RELIEF", memrelief.DefaultInterval.String()),
		"how often to check whether memory a burst left behind can go back to the OS (given back once the gateway is quiet), or off (env SINT_MEMORY_RELIEF)")
	f.StringVar(&serveFlags.reliefMin, "memory-relief-min", envOr("SINT_MEMORY_RELIEF_MIN", "64MiB"),
		"give memory back only when the gateway holds more than this above what the latest release left, on two consecutive checks (env SINT_MEMORY_RELIEF_MIN)")
	f.StringVar(&serveFlags.pprof, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); off by default")
	root.AddCommand(serveCmd)
}

// applyMemoryLimit resolves the limit (memlimit.Resolve) and sets it, unless
// GOMEMLIMIT chose it: the runtime applied that one at start.
func applyMemoryLimit(flag, env string, h memlimit.Host) (memlimit.Choice, error) {
	c, err := memlimit.Resolve(flag, env, h)
	if err != nil {
		return c, err
	}
	if c.Source != "GOMEMLIMIT" {
		debug.SetMemoryLimit(c.Bytes)
	}
	return c, nil
}

// startRelief runs the relief loop; a variable so that a test can see what
// serve starts.
var startRelief = memrelief.Run

// memoryRelief builds the relief loop's configuration from the flags
// (--memory-relief: a duration of at least a second, or off or 0); an
// invalid value is an error (the gateway does not start on a typo).
func memoryRelief(every, min string, log *slog.Logger) (memrelief.Config, error) {
	var interval time.Duration
	if e := strings.TrimSpace(every); e != "off" {
		d, err := time.ParseDuration(e)
		if err != nil || d < 0 || (d > 0 && d < time.Second) {
			return memrelief.Config{}, fmt.Errorf("--memory-relief: %q is neither a duration of at least 1s (e.g. 10s) nor off", every)
		}
		interval = d
	}
	n, err := memlimit.Parse(strings.TrimSpace(min))
	if err != nil {
		return memrelief.Config{}, fmt.Errorf("--memory-relief-min: %w", err)
	}
	if n == 0 {
		return memrelief.Config{}, errors.New("--memory-relief-min: must be above 0 (disable the relief with --memory-relief 0)")
	}
	return memrelief.Config{Interval: interval, Min: uint64(n), Log: log}, nil
}

func reliefString(c memrelief.Config) string {
	if c.Interval <= 0 {
		return "off"
	}
	return fmt.Sprintf("every %s, above %d MiB", c.Interval, c.Min>>20)
}
