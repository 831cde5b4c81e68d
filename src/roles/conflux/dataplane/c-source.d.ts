/** C sources are imported as text (`with { type: "text" }`) and compiled at run time. */
declare module "*.c" {
  const source: string;
  export default source;
}
