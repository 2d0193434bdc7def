package main

import (
	"net/http"
	"slices"

	"github.com/liaisonhq/liaison/gateway"
	"github.com/liaisonhq/liaison/gateway/adapters/fhirrest"
	"github.com/liaisonhq/liaison/gateway/adapters/graphql"
	"github.com/liaisonhq/liaison/gateway/adapters/rest"
	"github.com/liaisonhq/liaison/gateway/adapters/signedwebhook"
	"github.com/liaisonhq/liaison/gateway/adapters/soap"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue/amqpq"
	"github.com/liaisonhq/liaison/gateway/queue/kafkaq"
	"github.com/liaisonhq/liaison/gateway/queue/natsq"
)

// adapters is the registry of connector adapters the binary ships: one
// entry per connector type.
func adapters() gateway.Adapters {
	return gateway.Adapters{
		connector.FHIR: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return fhirrest.New(cfg, c) },
		connector.REST: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) { return rest.New(cfg, c) },
		connector.Webhook: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			return signedwebhook.New(cfg, c)
		},
		connector.SOAP: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			opts, err := soapOptions(cfg.SOAP)
			if err != nil {
				return nil, err
			}
			return soap.NewWith(cfg, opts, c)
		},
		connector.GraphQL: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			opts, err := graphqlOptions(cfg.GraphQL)
			if err != nil {
				return nil, err
			}
			return graphql.NewWith(cfg, opts, c)
		},
		connector.NATS: func(cfg connector.Config, _ *http.Client) (outbox.Sender, error) { return natsq.NewPublisher(cfg) },
		connector.AMQP: func(cfg connector.Config, _ *http.Client) (outbox.Sender, error) { return amqpq.NewPublisher(cfg) },
		connector.Kafka: func(cfg connector.Config, _ *http.Client) (outbox.Sender, error) {
			return kafkaq.NewPublisher(cfg)
		},
	}
}

// consumers is the registry of queue consumers: one entry per queue type.
func consumers() map[connector.Type]gateway.ConsumerFactory {
	return map[connector.Type]gateway.ConsumerFactory{
		connector.NATS: func(cfg connector.Config, durable string) (gateway.Consumer, error) {
			return natsq.NewConsumer(cfg, durable)
		},
		connector.AMQP: func(cfg connector.Config, durable string) (gateway.Consumer, error) {
			return amqpq.NewConsumer(cfg, durable)
		},
		connector.Kafka: func(cfg connector.Config, durable string) (gateway.Consumer, error) {
			return kafkaq.NewConsumer(cfg, durable)
		},
	}
}

// soapOptions returns the soap adapter's options for the connector's soap
// settings s (nil: the adapter's defaults), with the passwords resolved.
func soapOptions(s *connector.SOAPOptions) (soap.Options, error) {
	if s == nil {
		return soap.Options{}, nil
	}
	o := soap.Options{
		Version: soap.Version(s.Version),
		Action:  s.Action,
		IIS:     soap.IIS{Username: s.Username, FacilityID: s.FacilityID},
	}
	var err error
	if o.IIS.Password, err = resolveSecret("soap.password", s.Password); err != nil {
		return soap.Options{}, err
	}
	if w := s.WSSecurity; w != nil {
		t := &soap.UsernameToken{Username: w.Username, Digest: w.Digest}
		if t.Password, err = resolveSecret("soap.wsSecurity.password", w.Password); err != nil {
			return soap.Options{}, err
		}
		o.Security = t
	}
	if d := s.Delete; d != nil {
		o.Delete = &soap.DeleteOperation{Action: d.Action, Namespace: d.Namespace, Element: d.Element, IDElement: d.IDElement}
	}
	return o, nil
}

// graphqlOptions returns the graphql adapter's options for the
// connector's graphql settings g (nil: none, which the adapter refuses
// for want of a mutation), with file: documents read.
func graphqlOptions(g *connector.GraphQLOptions) (graphql.Options, error) {
	if g == nil {
		return graphql.Options{}, nil
	}
	o := graphql.Options{
		OperationName:       g.OperationName,
		InputVariable:       g.InputVariable,
		DeleteOperationName: g.DeleteOperationName,
		RetryCodes:          slices.Clone(g.RetryCodes),
	}
	var err error
	if o.Mutation, err = resolveText("graphql.mutation", g.Mutation); err != nil {
		return graphql.Options{}, err
	}
	if o.DeleteMutation, err = resolveText("graphql.deleteMutation", g.DeleteMutation); err != nil {
		return graphql.Options{}, err
	}
	return o, nil
}

// resolveSecret returns the secret that the field's ref stands for ("" for
// none), or a *connector.FieldError naming the field, never the secret.
func resolveSecret(field, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	v, err := connector.ResolveSecret(ref)
	if err != nil {
		return "", &connector.FieldError{Field: field, Err: err}
	}
	return v, nil
}

// resolveText returns the text that the field's ref stands for ("" for
// none), or a *connector.FieldError naming the field.
func resolveText(field, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	v, err := connector.ResolveText(ref)
	if err != nil {
		return "", &connector.FieldError{Field: field, Err: err}
	}
	return v, nil
}
