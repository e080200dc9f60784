package nomad

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// docVolumesRe finds the Nomad volume definitions of the manual: ```yaml
// blocks whose first line is "# nomad volumes".
var docVolumesRe = regexp.MustCompile("(?ms)^```yaml\\n# nomad volumes\\n(.*?)^```")

// TestManualVolumeDefinitionsParse reads every Nomad volume definition of
// docs/templates.md as EnsureVolumes reads it, once rendered for a space.
func TestManualVolumeDefinitionsParse(t *testing.T) {
	page, err := os.ReadFile("../../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := docVolumesRe.FindAllStringSubmatch(string(page), -1)
	if len(blocks) == 0 {
		t.Fatal("docs/templates.md holds no block marked # nomad volumes")
	}
	data := &runtime.RenderData{
		Space: &shared.Space{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000001"}, Name: "dev"},
		User:  &shared.User{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000002"}, Username: "alice"},
	}
	for _, b := range blocks {
		src, err := runtime.Render(`template "docs" volumes`, b[1], data)
		if err != nil {
			t.Errorf("the volume definition does not render: %v\n%s", err, b[1])
			continue
		}
		vols, err := parseVolumes(src, DefaultNamespace)
		if err != nil {
			t.Errorf("EnsureVolumes would refuse the volume definition: %v\n%s", err, src)
			continue
		}
		if len(vols) == 0 {
			t.Errorf("the volume definition defines no volume:\n%s", src)
		}
		for _, v := range vols {
			if !strings.Contains(v.ID, data.Space.ID) {
				t.Errorf("the example's volume %s does not belong to the space: its id lacks the space id", v.ID)
			}
		}
	}
}
