package opcuabridge

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// Security is how the bridge talks to the controller. There is no default:
// Mode "None" must be configured explicitly; "SignAndEncrypt" (or "Sign")
// needs the bridge's certificate and key and a policy (Basic256Sha256 when
// empty).
type Security struct {
	Mode     string // None, Sign or SignAndEncrypt
	Policy   string // None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss
	CertFile string // the bridge's certificate (DER or PEM)
	KeyFile  string // its RSA private key (PEM)
	// ServerCertFile, when set, is the controller certificate the bridge
	// expects (pinned); otherwise the endpoint's is taken from discovery.
	ServerCertFile string
}

// options checks s and returns the client options for the endpoint.
func (s Security) options(ctx context.Context, endpoint string) ([]opcua.Option, error) {
	base := []opcua.Option{
		opcua.AutoReconnect(false), // the bridge reconnects itself, latched
		opcua.ApplicationName("sint-opcuabridge"),
		opcua.ApplicationURI("urn:sintgate:opcuabridge"),
		opcua.SessionTimeout(30 * time.Second),
	}
	switch s.Mode {
	case "None":
		if s.Policy != "" && s.Policy != "None" {
			return nil, fmt.Errorf("security mode None takes no policy (got %s)", s.Policy)
		}
		return append(base, opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy(ua.SecurityPolicyURINone), opcua.AuthAnonymous()), nil
	case "Sign", "SignAndEncrypt":
	case "":
		return nil, errors.New("security mode not configured: SignAndEncrypt (with --cert and --key), or None explicitly")
	default:
		return nil, fmt.Errorf("security mode %q: want None, Sign or SignAndEncrypt", s.Mode)
	}
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, fmt.Errorf("security mode %s needs the bridge's certificate and key", s.Mode)
	}
	pol := s.Policy
	if pol == "" {
		pol = "Basic256Sha256"
	}
	if pol == "None" {
		return nil, fmt.Errorf("security mode %s needs a policy other than None", s.Mode)
	}
	cert, err := loadCert(s.CertFile)
	if err != nil {
		return nil, err
	}
	mode := ua.MessageSecurityModeFromString(s.Mode)
	uri := ua.FormatSecurityPolicyURI(pol)
	eps, err := opcua.GetEndpoints(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoints of %s: %w", endpoint, err)
	}
	ep, err := opcua.SelectEndpoint(eps, uri, mode)
	if err != nil || ep == nil {
		return nil, fmt.Errorf("the controller offers no endpoint with %s/%s", pol, s.Mode)
	}
	opts := append(base,
		opcua.SecurityPolicy(uri), opcua.SecurityMode(mode),
		opcua.Certificate(cert), opcua.PrivateKeyFile(s.KeyFile),
		opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeAnonymous), opcua.AuthAnonymous(),
	)
	if s.ServerCertFile != "" {
		opts = append(opts, opcua.RemoteCertificateFile(s.ServerCertFile))
	}
	return opts, nil
}

// loadCert reads a certificate file, PEM or DER, whatever its name.
func loadCert(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %s: PEM block %s, want CERTIFICATE", path, blk.Type)
		}
		b = blk.Bytes
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return b, nil
}

// Controller is the bridge's link to the real controller. Calls fail while
// it is down; the bridge's health loop reconnects it.
type Controller struct {
	endpoint string
	sec      Security

	mu sync.Mutex
	c  *opcua.Client // nil while down
}

// errDown is returned while the controller link is down.
var errDown = errors.New("controller not connected")

// connect dials the controller (replacing any previous client).
func (c *Controller) connect(ctx context.Context) error {
	opts, err := c.sec.options(ctx, c.endpoint)
	if err != nil {
		return err
	}
	cl, err := opcua.NewClient(c.endpoint, opts...)
	if err != nil {
		return err
	}
	if err := cl.Connect(ctx); err != nil {
		_ = cl.Close(context.WithoutCancel(ctx))
		return err
	}
	c.mu.Lock()
	old := c.c
	c.c = cl
	c.mu.Unlock()
	if old != nil {
		_ = old.Close(context.WithoutCancel(ctx))
	}
	return nil
}

// drop closes the client (the link is down until the next connect).
func (c *Controller) drop(ctx context.Context) {
	c.mu.Lock()
	old := c.c
	c.c = nil
	c.mu.Unlock()
	if old != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = old.Close(cctx)
		cancel()
	}
}

func (c *Controller) client() (*opcua.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, errDown
	}
	return c.c, nil
}

// Up reports whether the link is connected.
func (c *Controller) Up() bool { _, err := c.client(); return err == nil }

// write writes v to the node and returns the node's status code (a
// transport error is err).
func (c *Controller) write(ctx context.Context, nid *ua.NodeID, v *ua.Variant) (ua.StatusCode, error) {
	cl, err := c.client()
	if err != nil {
		return 0, err
	}
	res, err := cl.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: nid, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v},
	}}})
	if err != nil {
		return 0, err
	}
	if len(res.Results) != 1 {
		return ua.StatusBadUnknownResponse, nil
	}
	return res.Results[0], nil
}

// call calls the method and returns its status code and outputs.
func (c *Controller) call(ctx context.Context, obj, method *ua.NodeID, args []*ua.Variant) (ua.StatusCode, []*ua.Variant, error) {
	cl, err := c.client()
	if err != nil {
		return 0, nil, err
	}
	res, err := cl.Call(ctx, &ua.CallMethodRequest{ObjectID: obj, MethodID: method, InputArguments: args})
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, res.OutputArguments, nil
}

// read reads a node's value.
func (c *Controller) read(ctx context.Context, nid *ua.NodeID) (ua.StatusCode, *ua.Variant, error) {
	cl, err := c.client()
	if err != nil {
		return 0, nil, err
	}
	res, err := cl.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nid, AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnNeither})
	if err != nil {
		return 0, nil, err
	}
	if len(res.Results) != 1 {
		return ua.StatusBadUnknownResponse, nil, nil
	}
	return res.Results[0].Status, res.Results[0].Value, nil
}

// health reads the server's state (i=2259): an error or a state other
// than Running is a lost controller.
func (c *Controller) health(ctx context.Context) error {
	st, v, err := c.read(ctx, ua.NewNumericNodeID(0, id.Server_ServerStatus_State))
	if err != nil {
		return err
	}
	if st != ua.StatusOK {
		return fmt.Errorf("server state unreadable: %v", st)
	}
	if s, ok := v.Value().(int32); !ok || ua.ServerState(s) != ua.ServerStateRunning {
		return fmt.Errorf("server state %v is not Running", v.Value())
	}
	return nil
}

// monitor creates a subscription with one monitored item on the node's
// value; data changes (the current value first) arrive on notify. The
// caller cancels the subscription.
func (c *Controller) monitor(ctx context.Context, nid *ua.NodeID, interval time.Duration, notify chan<- *opcua.PublishNotificationData) (*opcua.Subscription, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	sub, err := cl.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: interval}, notify)
	if err != nil {
		return nil, err
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnSource, opcua.NewMonitoredItemCreateRequestWithDefaults(nid, ua.AttributeIDValue, 1))
	if err == nil && (len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK) {
		err = fmt.Errorf("monitored item refused: %v", res.Results)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = sub.Cancel(cctx)
		cancel()
		return nil, err
	}
	return sub, nil
}
