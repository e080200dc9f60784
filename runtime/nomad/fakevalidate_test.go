package nomad_test

import (
	"fmt"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
)

// validateJob makes the checks of Nomad's job validation (nomad/structs,
// Job.Validate and what it calls, run by the Job.Register endpoint) that
// a job file can fail without a cluster's state, after Nomad's
// canonicalization (a job without a name is named by its ID): the fake
// refuses such a job with 400, the errors in Nomad's multierror form, as
// Nomad does.
func validateJob(job *nomadapi.Job) []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if strings.Contains(deref(job.ID), " ") {
		add("Job ID contains a space")
	}
	switch t := deref(job.Type); t {
	case "", "service", "batch", "system", "sysbatch":
	default:
		add("Invalid job type: %q", t)
	}
	groups := map[string]int{}
	for i, tg := range job.TaskGroups {
		name := deref(tg.Name)
		if j, ok := groups[name]; ok {
			add("Job task group %d redefines '%s' from group %d", i+1, name, j+1)
		}
		groups[name] = i
		for _, e := range validateGroup(tg) {
			add("Task group %s validation failed: %s", name, e)
		}
	}
	return errs
}

func validateGroup(tg *nomadapi.TaskGroup) []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if deref(tg.Name) == "" {
		add("Missing task group name")
	}
	if deref(tg.Count) < 0 {
		add("Task group count can't be negative")
	}
	if len(tg.Tasks) == 0 {
		add("Missing tasks for task group")
	}
	ports := map[string]bool{}
	static := map[int]string{}
	for _, n := range tg.Networks {
		for _, p := range append(append([]nomadapi.Port{}, n.ReservedPorts...), n.DynamicPorts...) {
			if ports[p.Label] {
				add("Port label %s already in use", p.Label)
			}
			ports[p.Label] = true
			if p.Value < 0 || p.Value > 65535 {
				add("Port %q has an invalid static value %d", p.Label, p.Value)
			} else if p.Value != 0 {
				if other, ok := static[p.Value]; ok {
					add("Static port %d already reserved by %s", p.Value, other)
				}
				static[p.Value] = p.Label
			}
		}
	}
	for name, v := range tg.Volumes {
		if v.Type != "host" && v.Type != "csi" {
			add("Volume %s has unrecognized type %q", name, v.Type)
		}
		if v.Source == "" {
			add("Volume %s has an empty source", name)
		}
	}
	for _, s := range tg.Services {
		errs = append(errs, validateService(s, ports)...)
	}
	tasks := map[string]int{}
	for i, t := range tg.Tasks {
		if j, ok := tasks[t.Name]; ok {
			add("Task %d redefines '%s' from task %d", i+1, t.Name, j+1)
		}
		tasks[t.Name] = i
		for _, e := range validateTask(t, tg.Volumes, ports) {
			add("Task %s validation failed: %s", t.Name, e)
		}
	}
	return errs
}

func validateTask(t *nomadapi.Task, volumes map[string]*nomadapi.VolumeRequest, ports map[string]bool) []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if t.Name == "" {
		add("Missing task name")
	}
	if strings.Contains(t.Name, "/") {
		add("Task name cannot include slashes")
	}
	if t.Driver == "" {
		add("Missing task driver")
	}
	if r := t.Resources; r != nil {
		if r.CPU != nil && *r.CPU < 1 {
			add("minimum CPU value is 1; got %d", *r.CPU)
		}
		if r.MemoryMB != nil && *r.MemoryMB < 10 {
			add("minimum MemoryMB value is 10; got %d", *r.MemoryMB)
		}
	}
	for i, m := range t.VolumeMounts {
		if _, ok := volumes[deref(m.Volume)]; !ok {
			add("Volume Mount (%d) references undefined volume %s", i, deref(m.Volume))
		}
		if deref(m.Destination) == "" {
			add("Volume Mount (%d) has an empty destination", i)
		}
	}
	for _, s := range t.Services {
		errs = append(errs, validateService(s, ports)...)
	}
	return errs
}

func validateService(s *nomadapi.Service, ports map[string]bool) []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if s.Name == "" {
		add("Service must have a name")
	}
	if s.PortLabel != "" && !ports[s.PortLabel] {
		add("Port label %q referenced by service %s does not exist", s.PortLabel, s.Name)
	}
	for _, c := range s.Checks {
		switch c.Type {
		case "http":
			if c.Path == "" {
				add("Service %s: http type must have http path", s.Name)
			}
		case "tcp", "script", "grpc":
		default:
			add("Service %s: invalid type (%+q), must be one of http, tcp, script or grpc", s.Name, c.Type)
		}
		if c.Interval <= 0 {
			add("Service %s: interval (%v) must be positive", s.Name, c.Interval)
		}
		if c.Timeout <= 0 {
			add("Service %s: timeout (%v) must be positive", s.Name, c.Timeout)
		}
	}
	return errs
}

// multiError formats errs as Nomad's answers print a multierror.
func multiError(errs []string) string {
	var b strings.Builder
	if len(errs) == 1 {
		b.WriteString("1 error occurred:\n")
	} else {
		fmt.Fprintf(&b, "%d errors occurred:\n", len(errs))
	}
	for _, e := range errs {
		b.WriteString("\t* " + e + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
