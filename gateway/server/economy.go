package server

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/economy"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

func (s *Server) economyRoutes() {
	a := s.App
	a.Get("/v1/economy/balance", s.balance)
	a.Get("/v1/economy/transactions", s.transactions)
	a.Post("/v1/economy/charge", s.serviceCharge)
	a.Get("/v1/economy/budgets", s.op("read"), s.listBudgets)
	a.Put("/v1/economy/budgets/:agentId", s.op("economy:write"), s.setBudget)
	a.Get("/v1/economy/prices", s.op("read"), s.getPrices)
	a.Put("/v1/economy/prices", s.op("economy:write"), s.putPrices)
}

func (s *Server) econ() (store.Economy, *economy.Service, error) {
	if s.Operator.Economy == nil || s.Operator.Economy.Store == nil {
		return nil, nil, apiErr(503, codes.InternalError, "the economy is not configured")
	}
	return s.Operator.Economy.Store, s.Operator.Economy, nil
}

// econSubject resolves whose account a read is about: an agent reads its
// own (?agentId= naming another agent is 403); an operator (read) names
// any agent with ?agentId=.
func (s *Server) econSubject(c *fiber.Ctx) (string, error) {
	caller, err := s.callerAgentOrOperator(c)
	if err != nil {
		return "", err
	}
	want := c.Query("agentId")
	switch {
	case caller != "" && want != "" && want != caller:
		return "", apiErr(403, codes.Forbidden, "an agent may read only its own account")
	case caller != "":
		return caller, nil
	case !gateway.ValidKeyHex(want):
		return "", apiErr(400, codes.MalformedRequest, "operators name the agent with ?agentId=<64 hex>")
	}
	return want, nil
}

// balance is GET /v1/economy/balance.
func (s *Server) balance(c *fiber.Ctx) error {
	st, _, err := s.econ()
	if err != nil {
		return err
	}
	id, err := s.econSubject(c)
	if err != nil {
		return err
	}
	acc, err := st.GetAccount(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		acc, err = store.Account{AgentID: id}, nil
	}
	if err != nil {
		return err
	}
	return c.JSON(acc)
}

// transactions is GET /v1/economy/transactions?limit=N (newest first).
func (s *Server) transactions(c *fiber.Ctx) error {
	st, _, err := s.econ()
	if err != nil {
		return err
	}
	id, err := s.econSubject(c)
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	txs, err := st.ListTransactions(c.UserContext(), id, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"agentId": id, "transactions": txs})
}

// serviceCharge is POST /v1/economy/charge: an agent pays amount credits
// for a service. The idempotencyKey makes retries (with a fresh requestId,
// as replay protection requires) charge once, on any replica.
func (s *Server) serviceCharge(c *fiber.Ctx) error {
	st, _, err := s.econ()
	if err != nil {
		return err
	}
	var in struct {
		signedFields
		Amount         int64  `json:"amount"`
		IdempotencyKey string `json:"idempotencyKey"`
		Payee          string `json:"payee"`
		Memo           string `json:"memo"`
	}
	agent, err := s.agentAuth(c, &in, func() signedFields { return in.signedFields })
	if err != nil {
		return err
	}
	if in.Amount <= 0 || in.Amount > economy.MaxPrice {
		return apiErr(400, codes.MalformedRequest, "amount must be a positive number of credits")
	}
	if in.IdempotencyKey == "" || len(in.IdempotencyKey) > store.MaxIdempotencyKey-len("service:") ||
		!textOK(in.IdempotencyKey, store.MaxIdempotencyKey) || !textOK(in.Memo, store.MaxMemo-80) || !textOK(in.Payee, 64) {
		return apiErr(400, codes.MalformedRequest, "idempotencyKey (1–120 bytes) is required; memo at most 176 bytes, payee 64")
	}
	if s.Pipeline.Circuits.IsOpen(agent) {
		return apiErr(403, codes.CircuitOpen, "the agent's circuit is open")
	}
	memo := in.Memo
	if in.Payee != "" {
		memo = "to " + in.Payee + ": " + memo
	}
	ctx := c.UserContext()
	tx, replayed, err := st.Charge(ctx, agent, in.Amount, "service:"+in.IdempotencyKey, memo, s.now())
	if errors.Is(err, store.ErrInsufficientBalance) {
		return apiErr(402, codes.InsufficientBalance, "the agent's balance is below the amount")
	}
	if err != nil {
		return err
	}
	if !replayed {
		if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "economy.charged", AgentID: agent, Payload: map[string]any{
			"agentId": agent, "amount": in.Amount, "balance": tx.BalanceAfter, "txId": tx.TxID,
			"idempotencyKey": tx.IdempotencyKey, "payee": in.Payee, "requestId": in.RequestID,
		}}); err != nil {
			return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "charged, but the ledger could not record it", Cause: err}
		}
	}
	return c.JSON(fiber.Map{"transaction": tx, "replayed": replayed})
}

func (s *Server) listBudgets(c *fiber.Ctx) error {
	st, _, err := s.econ()
	if err != nil {
		return err
	}
	accs, err := st.ListAccounts(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"accounts": accs})
}

// setBudget is PUT /v1/economy/budgets/{agentId} {"balance", "idempotencyKey"?,
// "memo"?}: the operator sets the agent's balance.
func (s *Server) setBudget(c *fiber.Ctx) error {
	st, _, err := s.econ()
	if err != nil {
		return err
	}
	id := c.Params("agentId")
	if !gateway.ValidKeyHex(id) {
		return apiErr(400, codes.MalformedRequest, "agent id must be 64 lowercase hex characters")
	}
	var in struct {
		Balance        *int64 `json:"balance"`
		IdempotencyKey string `json:"idempotencyKey"`
		Memo           string `json:"memo"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.Balance == nil || *in.Balance < 0 || *in.Balance > economy.MaxPrice {
		return apiErr(400, codes.MalformedRequest, "balance (≥ 0 credits) is required")
	}
	if len(in.IdempotencyKey) > 100 || !textOK(in.IdempotencyKey, 100) || !textOK(in.Memo, store.MaxMemo) {
		return apiErr(400, codes.MalformedRequest, "idempotencyKey at most 100 bytes, memo 256")
	}
	key := in.IdempotencyKey
	if key == "" {
		key = uuid.Must(uuid.NewV7()).String()
	}
	op := operatorOf(c)
	ctx := c.UserContext()
	tx, replayed, err := st.SetBalance(ctx, id, *in.Balance, "budget:"+key, in.Memo, s.now())
	if err != nil {
		return err
	}
	if !replayed {
		if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "economy.budget.set", AgentID: "operator:" + op.OperatorID, Payload: map[string]any{
			"agentId": id, "balance": tx.BalanceAfter, "change": tx.Amount, "txId": tx.TxID,
		}}); err != nil {
			return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "set, but the ledger could not record it", Cause: err}
		}
	}
	return c.JSON(fiber.Map{"transaction": tx, "replayed": replayed})
}

func (s *Server) getPrices(c *fiber.Ctx) error {
	_, svc, err := s.econ()
	if err != nil {
		return err
	}
	if err := svc.Load(c.UserContext()); err != nil {
		return err
	}
	return c.JSON(svc.Prices())
}

// putPrices is PUT /v1/economy/prices: the whole price list with the
// version it replaces (409 CONFLICT when another operator changed it).
func (s *Server) putPrices(c *fiber.Ctx) error {
	_, svc, err := s.econ()
	if err != nil {
		return err
	}
	var in store.Prices
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := svc.SetPrices(c.UserContext(), in, s.now())
	if err != nil {
		var ce *codes.Error
		if errors.As(err, &ce) {
			return apiErr(400, ce.Code, ce.Message)
		}
		return storeErr(err, "price list")
	}
	if _, err := s.Ledger.Append(c.UserContext(), ledger.Event{EventType: "economy.prices.set", AgentID: "operator:" + operatorOf(c).OperatorID, Payload: map[string]any{
		"version": out.Version, "tiers": out.Tiers, "resources": out.Resources,
	}}); err != nil {
		return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "set, but the ledger could not record it", Cause: err}
	}
	return c.JSON(out)
}
