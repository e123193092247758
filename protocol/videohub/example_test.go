package videohub_test

import (
	"fmt"

	"standby/protocol/videohub"
)

// A client mirrors the router by applying every block it receives; pushes carry only changed
// lines, so applying them on top of the prelude keeps the mirror current.
func Example_mirror() {
	routes := map[videohub.Port]map[int]int{}    // destination family → dest → source
	labels := map[videohub.Port]map[int]string{} // port family → index → label

	var p videohub.Parser
	stream := "VIDEOHUB DEVICE:\nDevice present: true\nVideo inputs: 2\nVideo outputs: 2\n\n" +
		"INPUT LABELS:\n0 CAM 1\n1 Graphics\n\nVIDEO OUTPUT ROUTING:\n0 0\n1 0\n\n" +
		"ACK\n\nVIDEO OUTPUT ROUTING:\n1 1\n\n"
	for _, chunk := range []string{stream[:50], stream[50:]} { // any chunking works
		blocks, err := p.Feed([]byte(chunk))
		if err != nil {
			panic(err) // garbage: drop the connection
		}
		for _, b := range blocks {
			switch b.Kind.Format() {
			case videohub.FormatDevice:
				if b.Device.Has&videohub.FieldVideoOutputs != 0 {
					fmt.Println("outputs:", b.Device.VideoOutputs)
				}
			case videohub.FormatLabels:
				if labels[b.Kind.Port()] == nil {
					labels[b.Kind.Port()] = map[int]string{}
				}
				for _, l := range b.Labels {
					labels[b.Kind.Port()][l.Index] = l.Text
				}
			case videohub.FormatRouting:
				if routes[b.Kind.Port()] == nil {
					routes[b.Kind.Port()] = map[int]int{}
				}
				for _, r := range b.Routes {
					routes[b.Kind.Port()][r.Dest] = r.Source
				}
			}
			if b.Kind == videohub.KindACK {
				fmt.Println("ACK")
			}
		}
	}
	for out := range 2 {
		in := routes[videohub.PortOutput][out]
		// Indices are 0-based on the wire; people count from 1.
		fmt.Printf("output %d <- input %d (%s)\n", out+1, in+1, labels[videohub.PortInput][in])
	}
	// Output:
	// outputs: 2
	// ACK
	// output 1 <- input 1 (CAM 1)
	// output 2 <- input 2 (Graphics)
}
