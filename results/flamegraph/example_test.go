package flamegraph_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/codspeed-go/codspeed-go/results/flamegraph"
)

func Example() {
	p, err := flamegraph.ParseFolded(strings.NewReader("main;parse;lex 30\nmain;render 10\nmain;parse 5\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	p.Add([]string{"main", "render"}, 5) // adds to the existing stack
	fmt.Println("total:", p.Total())
	if err := p.WriteFolded(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// The graph itself: flamegraph.WriteSVG(w, p, flamegraph.Options{Unit: "Ir"})

	// Output:
	// total: 50
	// main;parse 5
	// main;parse;lex 30
	// main;render 15
}

func ExampleParseFolded_error() {
	_, err := flamegraph.ParseFolded(strings.NewReader("main;parse 3\nmain;;lex 4\n"))
	fmt.Println(err)
	// Output: line 2: frame 2 is empty
}
