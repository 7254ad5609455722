package xmlrpc

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// HandlerFunc serves one XML-RPC method call. A returned *Fault is sent as
// is; any other error becomes fault code 1 with the error text.
type HandlerFunc func(ctx context.Context, method string, params []any) (any, error)

// Handler returns an http.Handler that decodes POSTed method calls (at most
// MaxBodySize bytes) and answers with h's result.
func Handler(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "XML-RPC wants POST", http.StatusMethodNotAllowed)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
		var out []byte
		if err != nil {
			out = EncodeFault(-32700, "request body unreadable or too large")
		} else if method, params, err := DecodeCall(b); err != nil {
			out = EncodeFault(-32700, err.Error())
		} else if v, err := h(r.Context(), method, params); err != nil {
			var f *Fault
			if errors.As(err, &f) {
				out = EncodeFault(f.Code, f.String)
			} else {
				out = EncodeFault(1, err.Error())
			}
		} else if out, err = EncodeResponse(v); err != nil {
			out = EncodeFault(-32603, err.Error())
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(out)
	})
}
