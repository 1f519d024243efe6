/** The built-in layer converters register themselves on import; later registrations are custom. */
import './activations.js';
import './core.js';
import './spatial.js';
import './merge-norm.js';
import './recurrent.js';
import { endBuiltIns } from '../registry.js';

endBuiltIns();
