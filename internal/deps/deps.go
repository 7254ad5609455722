//go:build tools

// Package deps pins the modules the project builds on so that go mod tidy keeps them while packages are being written.
package deps

import (
	_ "github.com/cloudflare/ahocorasick"
	_ "github.com/eclipse/paho.golang/paho"
	_ "github.com/gofiber/contrib/websocket"
	_ "github.com/gofiber/fiber/v2"
	_ "github.com/google/uuid"
	_ "github.com/gorilla/websocket"
	_ "github.com/gowebpki/jcs"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/kolo/xmlrpc"
	_ "github.com/modelcontextprotocol/go-sdk/mcp"
	_ "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/mod/sumdb/tlog"
	_ "golang.org/x/text/unicode/norm"
	_ "gopkg.in/yaml.v3"
	_ "periph.io/x/conn/v3"
	_ "periph.io/x/host/v3"
	_ "pgregory.net/rapid"
)
