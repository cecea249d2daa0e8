import { greeting } from './greeting.js';

document.getElementById('greeting').textContent = greeting('kiln nodejs-build');
