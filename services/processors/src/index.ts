// The package's public entry: the built-in processors, for tools and tests of other packages.
export { processors } from './processors';
export { winterCommuneDay } from './processors/winter-commune-day';
