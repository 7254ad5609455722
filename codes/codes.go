// Package codes holds the stable machine codes of the wire contract
// (PROTOCOL.md §5.2): every deny and every error the gateway, the token
// verifier and the clients speak of. Codes are never renamed. The package is
// pure: it imports nothing that does I/O.
package codes

// Code is a stable deny or error code, as it appears on the wire.
type Code string

// Deny codes of PROTOCOL.md §5.2, in the order the protocol lists them.
const (
	MalformedRequest        Code = "MALFORMED_REQUEST"
	Unauthenticated         Code = "UNAUTHENTICATED"
	StaleRequest            Code = "STALE_REQUEST"
	ReplayDetected          Code = "REPLAY_DETECTED"
	CircuitOpen             Code = "CIRCUIT_OPEN"
	TokenNotFound           Code = "TOKEN_NOT_FOUND"
	MalformedToken          Code = "MALFORMED_TOKEN"
	InvalidSignature        Code = "INVALID_SIGNATURE"
	UnknownIssuer           Code = "UNKNOWN_ISSUER"
	InvalidChain            Code = "INVALID_CHAIN"
	DelegationDepthExceeded Code = "DELEGATION_DEPTH_EXCEEDED"
	TokenExpired            Code = "TOKEN_EXPIRED"
	TokenNotYetValid        Code = "TOKEN_NOT_YET_VALID"
	TokenRevoked            Code = "TOKEN_REVOKED"
	TokenSubjectMismatch    Code = "TOKEN_SUBJECT_MISMATCH"
	ConstraintViolation     Code = "CONSTRAINT_VIOLATION"
	InsufficientPermissions Code = "INSUFFICIENT_PERMISSIONS"
	GoalHijack              Code = "GOAL_HIJACK"
	PhysicsConstraint       Code = "PHYSICS_CONSTRAINT"
	RateLimitExceeded       Code = "RATE_LIMIT_EXCEEDED"
	RepetitionsExhausted    Code = "REPETITIONS_EXHAUSTED"
	TierExceeded            Code = "TIER_EXCEEDED"
	EstopEngaged            Code = "ESTOP_ENGAGED"
	ApprovalDenied          Code = "APPROVAL_DENIED"
	ApprovalTimeout         Code = "APPROVAL_TIMEOUT"
	ApprovalCancelled       Code = "APPROVAL_CANCELLED"
	InsufficientBalance     Code = "INSUFFICIENT_BALANCE"
	LedgerUnavailable       Code = "LEDGER_UNAVAILABLE"
	InternalError           Code = "INTERNAL_ERROR"
)

// Error codes used by operator endpoints (PROTOCOL.md §5.4) that are not deny codes.
const (
	Forbidden Code = "FORBIDDEN"
	NotFound  Code = "NOT_FOUND"
	Conflict  Code = "CONFLICT"
)

// All lists every deny code of PROTOCOL.md §5.2.
var All = []Code{
	MalformedRequest, Unauthenticated, StaleRequest, ReplayDetected, CircuitOpen,
	TokenNotFound, MalformedToken, InvalidSignature, UnknownIssuer, InvalidChain,
	DelegationDepthExceeded, TokenExpired, TokenNotYetValid, TokenRevoked,
	TokenSubjectMismatch, ConstraintViolation, InsufficientPermissions, GoalHijack,
	PhysicsConstraint, RateLimitExceeded, RepetitionsExhausted, TierExceeded,
	EstopEngaged, ApprovalDenied, ApprovalTimeout, ApprovalCancelled,
	InsufficientBalance, LedgerUnavailable, InternalError,
}

// Error is an error that carries a stable code. Message is public text; the
// optional Cause is for logs only and is never serialised.
type Error struct {
	Code    Code
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Cause.Error()
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an *Error with the given code and public message.
func New(c Code, msg string) *Error { return &Error{Code: c, Message: msg} }

// Wrap returns an *Error with the given code, public message and private cause.
func Wrap(c Code, msg string, cause error) *Error { return &Error{Code: c, Message: msg, Cause: cause} }

// Of returns the code carried by err, or InternalError when err carries none.
// A nil error has no code and yields the empty Code.
func Of(err error) Code {
	if err == nil {
		return ""
	}
	for e := err; e != nil; {
		if ce, ok := e.(*Error); ok {
			return ce.Code
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return InternalError
}
