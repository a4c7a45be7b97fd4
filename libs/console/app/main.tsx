import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { App } from "./shell.js";

render(<App />, document.getElementById("root")!);
