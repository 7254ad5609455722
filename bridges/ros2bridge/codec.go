package ros2bridge

import (
	"errors"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// codec is a ROS 2 route's message view for the shared core: params are
// the message's JSON form; the clamp applies the type's mappings, the
// route's and the envelope's payloadMap to that form (bridges.ClampPayload),
// so the bridge clamps exactly the values the gateway checked.
type codec struct {
	typ  msgs.Type
	maps []physics.Mapping // TypeMappings(typ) and the route's Mappings
	env  *bridges.EnvelopeCache
}

func newCodec(r Route) codec {
	return codec{typ: r.Type, maps: append(TypeMappings(r.Type), r.Mappings...), env: new(bridges.EnvelopeCache)}
}

// badMessage is an agent sample that did not decode: the core refuses it
// (Params fails) before any intercept.
type badMessage struct{ err error }

func (c codec) Params(m topicbridge.Message) ([]byte, error) {
	switch v := m.(type) {
	case badMessage:
		return nil, v.err
	case msgs.Message:
		if v.Type().Name != c.typ.Name {
			return nil, errors.New("message of type " + v.Type().Name + " on a " + c.typ.Name + " route")
		}
		return msgs.MarshalJSON(v)
	}
	return nil, errors.New("not a ROS 2 message")
}

func (c codec) Clamp(m topicbridge.Message, envelope []byte) (topicbridge.Message, bool, error) {
	js, err := c.Params(m)
	if err != nil {
		return nil, false, codes.Wrap(codes.MalformedRequest, "message has no JSON form", err)
	}
	out, changed, err := c.env.ClampPayload(c.maps, envelope, js)
	if err != nil || !changed {
		return m, false, err
	}
	cm, err := msgs.UnmarshalJSON(c.typ, out)
	if err != nil {
		return nil, false, err
	}
	return cm, true, nil
}
